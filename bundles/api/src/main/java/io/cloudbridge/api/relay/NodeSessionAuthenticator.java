package io.cloudbridge.api.relay;

import io.cloudbridge.api.auth.CredentialRejectedException;
import org.osgi.annotation.versioning.ProviderType;

/** Verifies the node token a transport session presents (the relay's control plane provides it). */
@ProviderType
public interface NodeSessionAuthenticator {

    /**
     * The node the token names, when the token is the relay's own, unexpired, and its node still
     * exists. The exception's message is the reason, fit for the session's close reason and the
     * security log; it never contains the token.
     *
     * @throws CredentialCheckUnavailableException the relay cannot check now: answer "come back
     *         later" (503 with Retry-After), not a refusal
     */
    AuthenticatedNode authenticate(String token) throws CredentialRejectedException;
}
