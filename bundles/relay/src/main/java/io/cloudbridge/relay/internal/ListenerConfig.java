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

    @AttributeDefinition(description = "UDP port of the STUN responder (Binding requests: a node's public address for NAT traversal); "
            + "0 picks a free port; -1: none")
    int stunPort() default 3478;

    @AttributeDefinition(description = "STUN answers per second to one address, at most (a burst of one second's worth)")
    int stunAnswersPerSourcePerSecond() default 20;

    @AttributeDefinition(description = "Event loops of the QUIC listener, each reading its own UDP socket on the QUIC port "
            + "(SO_REUSEPORT, with Linux's epoll transport; elsewhere there is one); 0: one per processor", min = "0")
    int quicEventLoops() default 0;

    @AttributeDefinition(description = "Seconds a QUIC connection may stay silent before it is closed")
    int quicIdleSeconds() default 30;

    @AttributeDefinition(description = "Seconds a new connection has to send its first request before it is closed")
    int firstRequestSeconds() default 10;

    @AttributeDefinition(description = "Seconds after its plugin went away that a path is answered 503 (come back soon) rather than "
            + "404 (not served here): a plugin that is refreshed, updated or reinstalled is back within them; 0: 404 at once")
    int routeRestartSeconds() default 30;
}
