package io.cloudbridge.api.auth;

import java.time.Instant;

/**
 * What a verified access token says.
 *
 * @param issuer  the identity provider
 * @param subject the person or service it names
 * @param tenant  the tenant it belongs to (from the configured claim)
 * @param expires when the token stops being good
 */
public record VerifiedIdentity(String issuer, String subject, String tenant, Instant expires) {
}
