package io.cloudbridge.control.node.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/** The {@code control} section: which relay this node registers with, and how it signs in. */
@ObjectClassDefinition(name = "Control plane (node)", description = "This node's relay and its sign-in.")
public @interface NodeControlConfig {
    @AttributeDefinition(description = "The relay's control service, host:port; empty: no relay.", required = false)
    String relay() default "";

    @AttributeDefinition(description = "The relay certificate's fingerprint (sha256:HEX, as the relay logs it and"
            + " relay:fingerprint prints); empty: trust the first certificate seen and keep it (state/control/relay-pin).",
            required = false)
    String relayFingerprint() default "";

    @AttributeDefinition(description = "A file holding a pre-auth key (owner-only), for headless sign-in.", required = false)
    String preAuthKeyFile() default "";

    @AttributeDefinition(description = "The name this node registers under; empty: the host's name.", required = false)
    String hostname() default "";

    @AttributeDefinition(min = "1", max = "300", description = "The longest wait between reconnection attempts, in seconds.")
    int maxBackoffSeconds() default 30;

    @AttributeDefinition(description = "The relay's data-plane transports, e.g. quic://relay.example:8443 and"
            + " wss://relay.example:8443; empty: both at port 8443 of the control relay's host.", required = false)
    String[] transports() default {};
}
