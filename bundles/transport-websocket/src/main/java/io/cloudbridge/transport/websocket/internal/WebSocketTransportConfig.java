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

    @AttributeDefinition(min = "100", max = "60000", description = "On a node: milliseconds between its pings to the relay")
    long pingMillis() default 5_000;

    @AttributeDefinition(min = "300", max = "300000", description = "On a node: a relay that has sent nothing (no pong, no "
            + "packet) for this many milliseconds is taken for gone and dialled again. A TCP connection whose other end went "
            + "silent (a relay that stopped reading, a NAT that forgot the connection) is otherwise noticed only when TCP's "
            + "retransmissions give up, many minutes later")
    long deadAfterMillis() default 15_000;
}
