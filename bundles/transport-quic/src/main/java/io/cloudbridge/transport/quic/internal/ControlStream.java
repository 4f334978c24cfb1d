package io.cloudbridge.transport.quic.internal;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelInitializer;

/**
 * Which of a session's streams is its control stream, and the relay's lines out on it. Stages:
 * <ol>
 * <li>the first stream the node opens becomes the control stream: lines in ({@link QuicWire#lineDecoder()},
 * {@link QuicWire#lineText()}), then the reader given;
 * <li>any stream after it is closed at once (a node has one control stream);
 * <li>the session's other parts write their lines (OK, MTU, ERR, BUSY, GOAWAY) through
 * {@link #send}, which writes only while the stream is open.
 * </ol>
 * Streams open on the connection's event loop, and every line is written from it.
 */
final class ControlStream {
    /** Set once, on the connection's loop; volatile because the route reads it on taking the transport down. */
    private volatile Channel stream;

    /**
     * What {@code QuicRoute.STREAM_HANDLER} gives a stream the node opened: the control stream's
     * pipeline, with {@code reader} last, if it is the first; a close otherwise.
     */
    ChannelHandler streamHandler(ChannelHandler reader) {
        return new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel opened) {
                if (stream != null) {
                    opened.close();
                    return;
                }
                stream = opened;
                opened.pipeline().addLast(QuicWire.lineDecoder(), QuicWire.lineText(), reader);
            }
        };
    }

    /** Writes {@code line} on the control stream if it is open; whether it was. */
    boolean send(String line) {
        Channel c = stream;
        if (c == null || !c.isActive()) {
            return false;
        }
        c.writeAndFlush(QuicWire.line(line));
        return true;
    }
}
