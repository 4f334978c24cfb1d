package io.cloudbridge.relay.spi;

import io.netty.handler.codec.quic.QuicChannel;
import org.osgi.annotation.versioning.ConsumerType;

/** An application protocol served on the relay's QUIC listener, chosen by ALPN (e.g. {@code cloudbridge/1}). */
@ConsumerType
public interface QuicRoute {

    /**
     * Where a route puts, on the connection it accepted, what handles each stream the peer opens
     * (a new handler per stream). Streams of a connection without one are closed.
     */
    io.netty.util.AttributeKey<java.util.function.Supplier<io.netty.channel.ChannelHandler>> STREAM_HANDLER =
            io.netty.util.AttributeKey.valueOf("cloudbridge.relay.quic.stream-handler");

    /**
     * The largest QUIC DATAGRAM frame payload the connection could send when its handshake ended
     * (QUIC's datagram event, which fires before the route gets the connection), when the peer
     * enabled datagrams; absent otherwise.
     */
    io.netty.util.AttributeKey<Integer> PEER_MAX_DATAGRAM = io.netty.util.AttributeKey.valueOf("cloudbridge.relay.quic.peer-max-datagram");

    /** The ALPN protocol id this route serves. */
    String alpn();

    /**
     * Takes over a QUIC connection that negotiated {@link #alpn()}, once its handshake is done.
     * Called on the connection's event loop: never block. The route adds its handlers to the
     * connection's pipeline and sets {@link #STREAM_HANDLER}; the relay has read nothing.
     */
    void accept(QuicChannel connection);
}
