package io.cloudbridge.transport.quic.internal;

import io.cloudbridge.relay.spi.QuicRoute;
import io.netty.handler.codec.quic.QuicChannel;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

/**
 * The QUIC transport's protocol version 2 ({@value QuicWire#ALPN_WITH_FLOW}) on the relay's QUIC
 * listener: version 1 whose AUTH line may carry the session attempt's correlation id. Served by
 * the same route, so the two come and go together.
 */
@Component(service = QuicRoute.class)
public final class QuicRelayRouteWithFlow implements QuicRoute {
    @Reference
    private QuicRelayRoute route;

    @Override
    public String alpn() {
        return QuicWire.ALPN_WITH_FLOW;
    }

    @Override
    public void accept(QuicChannel connection) {
        route.accept(connection);
    }
}
