package io.cloudbridge.api.relay;

import io.cloudbridge.api.auth.CredentialRejectedException;
import java.time.Instant;
import org.osgi.annotation.versioning.ConsumerType;
import org.osgi.annotation.versioning.ProviderType;

/**
 * The relay's one revocation signal (its control plane provides it). Every listener that admits a
 * session with a bearer credential (a node token, or an identity provider's access token) binds the
 * session here once it is in place; the session is then told to end when that credential stops
 * being good: its node removed, its node's key rotated, the token expired without the node renewing
 * it, or the access token expired or its provider no longer trusted. A listener's own check at
 * admission is not enough: a credential can be revoked between that check and the session's start,
 * and tokens expire while sessions live.
 */
@ProviderType
public interface CredentialRevocations {

    /**
     * Binds {@code session} to the credential {@code token} proves, and checks the credential again
     * after binding it: a credential revoked since the caller's own check (while the session was
     * being set up) is refused here, and one revoked later ends the session. Blocks (it may read the
     * relay's database): never call it on an event loop.
     *
     * @throws CredentialRejectedException the credential is no longer good: end the session; its
     *         message is the reason and never contains the token
     * @throws CredentialCheckUnavailableException the relay cannot check now: answer "come back
     *         later", not a refusal
     */
    Binding bind(String token, Revocable session) throws CredentialRejectedException;

    /** A session that ends when its credential does. */
    @ConsumerType
    @FunctionalInterface
    interface Revocable {
        /**
         * The credential was revoked or expired: end the session now, with the reason. Called at
         * most once, on a thread of the relay's that must not be held: hand the work to the
         * session's own thread.
         */
        void revoked(String reason);
    }

    /** A session's place among its credential's sessions. */
    @ProviderType
    interface Binding extends AutoCloseable {
        /** When the credential ends unless it is renewed before. */
        Instant expires();

        /** The session ended by itself: it is forgotten, and never told. Idempotent. */
        @Override
        void close();
    }
}
