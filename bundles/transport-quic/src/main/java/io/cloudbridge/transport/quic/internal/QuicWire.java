package io.cloudbridge.transport.quic.internal;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.LineBasedFrameDecoder;
import io.netty.handler.codec.string.StringDecoder;
import java.nio.charset.StandardCharsets;
import java.util.function.BiConsumer;
import java.util.function.Consumer;

/**
 * The QUIC transport's protocol, ALPN {@value #ALPN}. Each overlay packet is one QUIC DATAGRAM
 * frame (RFC 9221): {@code [32-byte WireGuard public key][encrypted WireGuard message]}, the key
 * naming the destination from node to relay and the source from relay to node. The node opens one
 * bidirectional stream for the session's control messages, lines of UTF-8:
 * <pre>
 *   node  → relay   AUTH &lt;node token&gt;      relay → node   OK &lt;largest datagram the relay takes&gt;
 *                                           relay → node   MTU &lt;largest datagram the relay's path to the node carries&gt;
 *                                           relay → node   GOAWAY &lt;reason&gt;  (the relay closes the session soon:
 *                                                          the node moves to another transport first)
 *   node  → relay   PING                    relay → node   PONG
 *                                           relay → node   ERR &lt;reason&gt;   (then the connection closes)
 *                                           relay → node   BUSY &lt;seconds&gt; &lt;reason&gt;  (refused for now: the node
 *                                                          dials again after that many seconds; then the
 *                                                          connection closes with {@link #BUSY_CLOSE} and
 *                                                          the same line as its phrase)
 * </pre>
 * A relay closes a session for a reason of policy (token refused, node removed, replaced by a
 * newer session) with the application error {@link #POLICY_CLOSE} and the reason as its phrase:
 * the node does not dial again. Any other loss is dialled again with backoff. Both ends discover
 * their path MTU (don't-fragment probes, {@link PathMtu}); the relay sends MTU whenever its side's
 * changes, and the node keeps its datagrams, and so its overlay MTU, within both directions' limit.
 */
final class QuicWire {
    static final String ALPN = "cloudbridge/1";
    /**
     * The same protocol, but the AUTH line may carry the session attempt's correlation id after
     * the token ({@code AUTH <token> <id>}): a relay of this version serves both, and a node offers
     * both, so that either side may be the older one. (A relay that knows only version 1 closes a
     * session on any line it does not know, so the id could not simply be added to it.)
     */
    static final String ALPN_WITH_FLOW = "cloudbridge/2";
    static final int KEY_LENGTH = 32;
    /** A control line, at most. */
    static final int MAX_LINE = 8 * 1024;
    /** The application error of a close for a reason of policy. */
    static final int POLICY_CLOSE = 0x108;
    /** The application error of a close because the transport is going away (plugin removed, relay stopping). */
    static final int GOING_AWAY = 0x101;
    /**
     * The application error of a close after BUSY: not one of policy, so a node that does not know
     * BUSY dials again with its backoff, as it would after any other loss.
     */
    static final int BUSY_CLOSE = 0x102;
    /**
     * The largest UDP payload the node receives, and advertises (QUIC's max_udp_payload_size): room
     * for a 1,500-byte link's 1,472 and some. It is the slot size of a batched read too, so more
     * would cost memory per read for datagrams the relay does not send (it probes no further).
     */
    static final int MAX_RECV_UDP_PAYLOAD = 2_048;
    /** Datagrams per system call with epoll (recvmmsg, UDP GSO). */
    static final int DATAGRAMS_PER_CALL = 16;
    /** The largest it sends before path MTU discovery finds more: a 1,500-byte IPv4 link. */
    static final int MAX_SEND_UDP_PAYLOAD = 1_472;
    private static final StringDecoder LINE_TEXT = new StringDecoder(StandardCharsets.UTF_8);

    private QuicWire() {
    }

    /** Splits a control stream into lines, refusing one longer than {@link #MAX_LINE} (TooLongFrameException). */
    static LineBasedFrameDecoder lineDecoder() {
        return new LineBasedFrameDecoder(MAX_LINE, true, true);
    }

    /**
     * A control line's text, after {@link #lineDecoder()}: UTF-8, a malformed sequence read as
     * U+FFFD (so the line is of no known kind rather than an error). One decoder serves every
     * stream: it holds no state.
     */
    static StringDecoder lineText() {
        return LINE_TEXT;
    }

    /** A control line as written: its text and the newline, UTF-8. */
    static ByteBuf line(String text) {
        return Unpooled.copiedBuffer(text + "\n", StandardCharsets.UTF_8);
    }

    /**
     * A control stream's handler: lines of UTF-8, at most {@link #MAX_LINE} bytes each, handed to
     * {@code onLine} with the stream; any failure (a line too long) to {@code onError}.
     */
    static ChannelHandler lines(BiConsumer<Channel, String> onLine, Consumer<Throwable> onError) {
        return new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel stream) {
                stream.pipeline().addLast(lineDecoder(), lineText()).addLast(new SimpleChannelInboundHandler<String>() {
                    @Override
                    protected void channelRead0(ChannelHandlerContext ctx, String text) {
                        onLine.accept(stream, text);
                    }

                    @Override
                    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                        onError.accept(cause);
                    }
                });
            }
        };
    }
}
