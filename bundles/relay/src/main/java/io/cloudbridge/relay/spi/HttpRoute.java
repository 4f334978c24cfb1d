package io.cloudbridge.relay.spi;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.FullHttpRequest;
import org.osgi.annotation.versioning.ConsumerType;

/** A path served on the relay's TLS listener, e.g. the WebSocket transport's. */
@ConsumerType
public interface HttpRoute {

    /** The request path served, exactly (no query string), e.g. {@code /cloudbridge/v1/ws}. */
    String path();

    /**
     * Takes over a connection whose first request asks for {@link #path()}. The pipeline holds the
     * relay's TLS handler, an HTTP server codec and an aggregator bounded to small requests; the
     * route answers the request and adds what it needs (a WebSocket handshake, say). Called on the
     * connection's event loop: never block. The request is released by the caller afterwards;
     * retain it to keep it.
     */
    void accept(ChannelHandlerContext ctx, FullHttpRequest request);
}
