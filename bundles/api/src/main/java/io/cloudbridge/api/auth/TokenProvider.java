package io.cloudbridge.api.auth;

import java.util.concurrent.CompletionStage;
import org.osgi.annotation.versioning.ConsumerType;

/**
 * A source of access tokens (an OIDC client, the relay's own node tokens). Implementations renew
 * before expiry; callers ask each time they need one and never cache it themselves.
 */
@ConsumerType
public interface TokenProvider {

    /** The provider's name, e.g. {@code oidc-device}, {@code preauth}. */
    String name();

    /** A token valid for at least a little while, renewing first when needed. */
    CompletionStage<AccessToken> currentToken();

    /** Forget the current token (the server refused it), so the next call obtains a new one. */
    void invalidate();
}
