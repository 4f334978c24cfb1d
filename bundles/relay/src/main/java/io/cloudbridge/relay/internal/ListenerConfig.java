package io.cloudbridge.relay.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/** The 'listeners' section: where the relay's data plane listens. */
@ObjectClassDefinition(name = "Relay listeners", description = "The relay's transport listeners")
public @interface ListenerConfig {

    @AttributeDefinition(description = "Address the listeners bind")
    String address() default "0.0.0.0";

    @AttributeDefinition(description = "TCP port of the TLS listener (WebSocket and other HTTP paths); 0 picks a free port")
    int tlsPort() default 8443;

    @AttributeDefinition(description = "UDP port of the QUIC listener (the QUIC transport, and MASQUE); 0 picks a free port; -1: none")
    int quicPort() default 8443;

    @AttributeDefinition(description = "Seconds a QUIC connection may stay silent before it is closed")
    int quicIdleSeconds() default 30;

    @AttributeDefinition(description = "Seconds a new connection has to send its first request before it is closed")
    int firstRequestSeconds() default 10;
}
