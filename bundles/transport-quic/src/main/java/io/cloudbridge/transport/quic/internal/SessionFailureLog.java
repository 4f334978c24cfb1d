package io.cloudbridge.transport.quic.internal;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import java.net.SocketAddress;
import java.util.function.Supplier;

/**
 * Last on the connection's pipeline: a failure that reaches it is logged at debug with the node's
 * address and goes no further. One node's connection failing is that node's business, not worth
 * the warning Netty's pipeline tail would log for it.
 */
final class SessionFailureLog extends ChannelInboundHandlerAdapter {
    private final Supplier<SocketAddress> node;

    SessionFailureLog(Supplier<SocketAddress> node) {
        this.node = node;
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        QuicRelayRoute.LOG.debug("QUIC session from {} failed: {}", node.get(), cause.toString());
    }
}
