package io.cloudbridge.ice.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/** The 'ice' section: NAT traversal. */
@ObjectClassDefinition(name = "NAT traversal", description = "How the node finds out what its UDP looks like from outside")
public @interface IceConfig {

    @AttributeDefinition(description = "STUN servers, host:port, asked before the home relay's responder", required = false)
    String[] stunServers() default {};

    @AttributeDefinition(description = "Whether the home relay's STUN responder (its host at stunPort) is asked too")
    boolean useRelayStun() default true;

    @AttributeDefinition(description = "The relay's STUN port, used when stunServers is empty")
    int stunPort() default 3478;

    @AttributeDefinition(description = "TURN servers, host:port (UDP), whose relayed candidates are offered to peers: the path where no direct pair succeeds and UDP to the server gets out", required = false)
    String[] turnServers() default {};

    @AttributeDefinition(description = "The user name for the TURN servers (long-term credentials, RFC 8489 9.2)", required = false)
    String turnUsername() default "";

    @AttributeDefinition(description = "A file holding the TURN servers' password (owner-only)", required = false)
    String turnPasswordFile() default "";

    @AttributeDefinition(description = "Birthday-paradox probing where plain hole punching fails and one NAT maps per destination while the other does not: 256 sockets on the first side, 1,024 probes from the second (needs two STUN servers to tell the mappings)")
    boolean birthdayProbing() default true;

    @AttributeDefinition(description = "Whether to look for direct paths to peers at all (false: every peer stays relayed, by policy)")
    boolean directPaths() default true;

    @AttributeDefinition(description = "Whether to offer this node's own (host) addresses as candidates; false keeps private addresses off the signalling stream")
    boolean hostCandidates() default true;

    @AttributeDefinition(description = "Milliseconds a round of connectivity checks may take before the peer is declared unreachable directly")
    long checkTimeoutMillis() default 5000;

    @AttributeDefinition(description = "Milliseconds between consent checks on a direct path")
    long consentIntervalMillis() default 250;

    @AttributeDefinition(description = "Milliseconds without an answer after which a direct path is given up (the peer falls back to the relay)")
    long consentTimeoutMillis() default 1500;

    @AttributeDefinition(description = "First wait, in milliseconds, before a peer without a direct path is tried again; it doubles each time")
    long retryMinMillis() default 1000;

    @AttributeDefinition(description = "Longest wait, in milliseconds, before a peer without a direct path is tried again")
    long retryMaxMillis() default 60_000;
}
