package io.cloudbridge.transport.quic.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/** The 'quic' section: the node's QUIC transport. */
@ObjectClassDefinition(name = "QUIC transport", description = "Relay sessions over QUIC, packets in DATAGRAM frames")
public @interface QuicTransportConfig {

    @AttributeDefinition(description = "Order among the transports: lower is tried first (WebSocket is 20)")
    int priority() default 10;

    @AttributeDefinition(description = "First wait before dialling a lost relay session again, in milliseconds")
    long minBackoffMillis() default 500;

    @AttributeDefinition(description = "Longest wait between attempts, in milliseconds")
    long maxBackoffMillis() default 30_000;
}
