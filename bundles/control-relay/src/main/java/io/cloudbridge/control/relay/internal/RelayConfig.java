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

    // Budgets of authenticated callers. Each holds a minute's worth, so a burst of that size goes
    // through at once and a loop is held to the rate; over a budget a call gets RESOURCE_EXHAUSTED
    // with a retry hint (grpc-retry-pushback-ms), which nodes wait out.

    @AttributeDefinition(min = "1", max = "100000", description = "Registrations per node (its WireGuard key, and its"
            + " node id when it signs in with its own token) and minute.")
    int registrationsPerNodePerMinute() default 20;

    @AttributeDefinition(min = "1", max = "1000000", description = "Registrations per tenant and minute, all credentials"
            + " together.")
    int registrationsPerTenantPerMinute() default 6000;

    @AttributeDefinition(min = "1", max = "1000000", description = "Registrations per pre-auth key and minute (a reusable"
            + " key enrolling many nodes); a one-time key refused for a budget is not used up.")
    int registrationsPerPreAuthKeyPerMinute() default 1200;

    @AttributeDefinition(min = "1", max = "100000", description = "Token renewals (RefreshToken) per node and minute; a"
            + " refresh token refused for a budget stays good.")
    int renewalsPerNodePerMinute() default 20;

    @AttributeDefinition(min = "1", max = "1000000", description = "Token renewals per tenant and minute.")
    int renewalsPerTenantPerMinute() default 6000;

    @AttributeDefinition(min = "1", max = "100000", description = "Network map streams opened per node and minute.")
    int mapOpensPerNodePerMinute() default 30;

    @AttributeDefinition(min = "1", max = "1000000", description = "Network map streams opened per tenant and minute.")
    int mapOpensPerTenantPerMinute() default 12000;

    @AttributeDefinition(min = "1", max = "1000000", description = "Registrations waiting to be written at most, of one"
            + " tenant all but an eighth of it; beyond it a registration is refused at once (RESOURCE_EXHAUSTED) rather than queued.")
    int registrationQueue() default 4096;

    @AttributeDefinition(min = "1", max = "1024", description = "Threads that run control calls. Registrations waiting"
            + " for their write hold none; streams hold one only while they handle a message.")
    int controlThreads() default 32;
}
