package io.cloudbridge.api.auth;

import org.osgi.annotation.versioning.ProviderType;

/**
 * Checks access tokens that an identity provider issued (an OpenID Provider's JWTs), for a relay
 * that admits nodes signed in there.
 */
@ProviderType
public interface IdentityVerifier {
    /**
     * @return who the token speaks for, and in which tenant
     * @throws CredentialRejectedException with the reason (never the token) when it does not verify
     */
    VerifiedIdentity verify(String accessToken) throws CredentialRejectedException;
}
