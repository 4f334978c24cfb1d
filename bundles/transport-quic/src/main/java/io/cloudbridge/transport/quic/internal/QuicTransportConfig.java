package io.cloudbridge.transport.quic.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/** The 'quic' section: the QUIC transport, on a node (how it is chosen and dialled) and on a relay. */
@ObjectClassDefinition(name = "QUIC transport", description = "Relay sessions over QUIC, packets in DATAGRAM frames")
public @interface QuicTransportConfig {

    @AttributeDefinition(description = "Order among the transports: lower is tried first (WebSocket is 20)")
    int priority() default 10;

    @AttributeDefinition(description = "First wait before dialling a lost relay session again, in milliseconds")
    long minBackoffMillis() default 500;

    @AttributeDefinition(description = "Longest wait between attempts, in milliseconds")
    long maxBackoffMillis() default 30_000;

    @AttributeDefinition(min = "100", max = "60000", description = "On a node: milliseconds between its PINGs to the relay")
    long pingMillis() default 2_000;

    @AttributeDefinition(min = "300", max = "120000", description = "On a node: a relay that has sent nothing (no PONG, no "
            + "packet) for this many milliseconds is taken for gone and dialled again. UDP has no close of its own: without "
            + "this a relay killed or restarted is noticed only at QUIC's 30 s idle timeout")
    long deadAfterMillis() default 6_000;

    @AttributeDefinition(min = "1", max = "300", description = "On a relay: seconds a QUIC session has to prove its node before it is closed")
    int authSeconds() default 10;

    @AttributeDefinition(min = "0", max = "60000", description = "On a relay: milliseconds its QUIC sessions have to move to "
            + "another transport when the QUIC transport is removed, before they are closed")
    long drainMillis() default 3_000;
}
