package io.cloudbridge.transport.websocket.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/** The 'websocket' section: the node's WebSocket transport. */
@ObjectClassDefinition(name = "WebSocket transport", description = "Relay sessions over WebSocket on TLS (TCP)")
public @interface WebSocketTransportConfig {

    @AttributeDefinition(description = "Order among the transports: lower is tried first (QUIC is 10)")
    int priority() default 20;

    @AttributeDefinition(description = "First wait before dialling a lost relay session again, in milliseconds")
    long minBackoffMillis() default 500;

    @AttributeDefinition(description = "Longest wait between attempts, in milliseconds")
    long maxBackoffMillis() default 30_000;
}
