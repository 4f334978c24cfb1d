package io.cloudbridge.api.auth;

import java.time.Instant;

/**
 * A bearer token and when it stops working.
 *
 * @param value     the token itself: a secret, never logged ({@link #toString()} masks it)
 * @param expiresAt its expiry
 * @param tenant    the tenant it speaks for
 */
public record AccessToken(String value, Instant expiresAt, String tenant) {

    public boolean expiresWithin(java.time.Duration margin, Instant now) {
        return !expiresAt.isAfter(now.plus(margin));
    }

    @Override
    public String toString() {
        return "AccessToken[value=***, expiresAt=" + expiresAt + ", tenant=" + tenant + "]";
    }
}
