package io.cloudbridge.auth.oidc.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;
import org.osgi.service.metatype.annotations.Option;

/** The {@code oidc} section of a node: how it signs in at the tenant's OpenID Provider. */
@ObjectClassDefinition(name = "OIDC sign-in", description = "Sign-in at an OpenID Provider, for nodes.")
public @interface OidcClientConfig {
    @AttributeDefinition(description = "The provider's issuer URL (https; http on loopback only).")
    String issuer();

    @AttributeDefinition(description = "This node's client id at the provider.")
    String clientId() default "cloudbridge-node";

    @AttributeDefinition(description = "For client credentials: a file holding the client secret (owner-only).", required = false)
    String clientSecretFile() default "";

    @AttributeDefinition(description = "How to sign in: 'device' (a person approves in a browser: cb:login) or"
            + " 'client-credentials' (a service account).", options = {
                @Option(value = "device", label = "device authorization grant"),
                @Option(value = "client-credentials", label = "client credentials")})
    String flow() default "device";

    @AttributeDefinition(description = "The resource indicator (RFC 8707) the relay's tokens are for: the relay"
            + " accepts it as the audience.")
    String resource() default "urn:cloudbridge:relay";

    @AttributeDefinition(description = "Scopes asked for.")
    String scope() default "openid";
}
