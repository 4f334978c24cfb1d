package io.cloudbridge.transport.quic.internal;

import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.api.relay.SwitchPort;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Supplier;

/**
 * The node's datagrams into the switch, on the connection's pipeline. Each datagram, on the
 * connection's loop:
 * <ol>
 * <li>before the node signed in (no port yet), or with no room for a packet after the key: dropped
 * and counted malformed;
 * <li>otherwise split into {@code [32-byte destination key][packet]} and the packet forwarded through
 * the node's port, which is done with the bytes when it returns;
 * <li>released, whatever became of it.
 * </ol>
 * Anything that is not a datagram goes on down the pipeline.
 */
final class DatagramDecoder extends ChannelInboundHandlerAdapter {
    private final Supplier<SwitchPort> port;
    private final LongAdder malformed;
    private final byte[] keyBytes = new byte[QuicWire.KEY_LENGTH];

    /** @param port the node's port once it signed in, null before */
    DatagramDecoder(Supplier<SwitchPort> port, LongAdder malformed) {
        this.port = port;
        this.malformed = malformed;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof ByteBuf datagram)) {
            ctx.fireChannelRead(msg);
            return;
        }
        try {
            SwitchPort p = port.get();
            if (p == null || datagram.readableBytes() <= QuicWire.KEY_LENGTH) {
                malformed.increment(); // before AUTH, or no room for a packet: dropped, counted
                return;
            }
            datagram.readBytes(keyBytes);
            ByteBuffer packet = datagram.nioBuffer(datagram.readerIndex(), datagram.readableBytes());
            p.forward(NodeKey.of(keyBytes), packet);
        } finally {
            datagram.release();
        }
    }
}
