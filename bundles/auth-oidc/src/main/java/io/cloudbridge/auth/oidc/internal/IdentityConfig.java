package io.cloudbridge.auth.oidc.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/** The {@code identity} section of a relay: the OpenID Provider whose access tokens admit nodes. */
@ObjectClassDefinition(name = "Identity (relay)", description = "The OpenID Provider whose tokens the relay accepts.")
public @interface IdentityConfig {
    @AttributeDefinition(description = "The provider's issuer URL; tokens must name it as 'iss'.")
    String issuer();

    @AttributeDefinition(description = "The audience tokens must name: the relay's resource indicator.")
    String audience() default "urn:cloudbridge:relay";

    @AttributeDefinition(description = "The claim that names the tenant.")
    String tenantClaim() default "tenant";

    @AttributeDefinition(description = "The claim that lists the subject's groups, which access policies name as"
            + " idp:GROUP; a token without it has none.")
    String groupsClaim() default "groups";

    @AttributeDefinition(description = "Signature algorithms accepted; never 'none', never HMAC.")
    String[] algorithms() default {"ES256", "ES384", "RS256", "PS256"};

    @AttributeDefinition(min = "0", max = "300", description = "Clock difference tolerated, in seconds.")
    int clockSkewSeconds() default 30;

    @AttributeDefinition(min = "1", max = "3600", description = "Least time between two fetches of the provider's"
            + " keys when a token names a key not yet seen, in seconds.")
    int jwksRefetchSeconds() default 30;
}
