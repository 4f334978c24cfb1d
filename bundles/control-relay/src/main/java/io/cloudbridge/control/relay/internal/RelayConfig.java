package io.cloudbridge.control.relay.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/** The {@code relay} section: the relay's control-plane listener, its certificate and its tokens. */
@ObjectClassDefinition(name = "Relay", description = "The relay's gRPC control service.")
public @interface RelayConfig {
    @AttributeDefinition(description = "The address the control service listens on.")
    String listenAddress() default "0.0.0.0";

    @AttributeDefinition(min = "0", max = "65535", description = "The control service's TCP port (TLS 1.3); 0 for any free port.")
    int controlPort() default 7443;

    @AttributeDefinition(min = "0", max = "65535", description = "The port of the HTTPS endpoint that publishes the"
            + " token-signing keys (/.well-known/jwks.json); 0 for any free port.")
    int jwksPort() default 7444;

    @AttributeDefinition(description = "The certificate (PEM); empty: a self-signed one made on first start and kept"
            + " in state/relay/tls, whose fingerprint nodes pin.", required = false)
    String certificateFile() default "";

    @AttributeDefinition(description = "The certificate's private key (PEM, PKCS#8), owner-only.", required = false)
    String privateKeyFile() default "";

    @AttributeDefinition(description = "The name the relay signs node tokens with (their 'iss').")
    String issuer() default "cloudbridge-relay";

    @AttributeDefinition(min = "10", max = "86400", description = "How long a node token lives, in seconds; nodes renew"
            + " before it ends.")
    int tokenLifetimeSeconds() default 900;

    @AttributeDefinition(min = "60", max = "31536000", description = "How long a refresh token lives unused, in seconds.")
    int refreshLifetimeSeconds() default 2_592_000;

    @AttributeDefinition(min = "60", max = "31536000", description = "How often the token-signing key is replaced, in"
            + " seconds; the old one keeps verifying for a token lifetime after.")
    int signingKeyRotationSeconds() default 86_400;

    @AttributeDefinition(min = "0", max = "31536000", description = "A node not heard from (registration, heartbeat)"
            + " for this many seconds expires: it is removed and its addresses released; 0: nodes stay until deleted.")
    int nodeExpirySeconds() default 0;

    @AttributeDefinition(min = "1", max = "3600", description = "How often nodes report, in seconds.")
    int heartbeatSeconds() default 30;

    @AttributeDefinition(min = "1", max = "10000", description = "Failed pre-auth key attempts allowed per source"
            + " address and minute, beyond which registration is refused for the rest of the minute.")
    int preAuthFailuresPerMinute() default 10;
}
