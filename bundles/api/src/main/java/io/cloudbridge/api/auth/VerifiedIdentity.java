package io.cloudbridge.api.auth;

import java.time.Instant;
import java.util.List;

/**
 * What a verified access token says.
 *
 * @param issuer  the identity provider
 * @param subject the person or service it names
 * @param tenant  the tenant it belongs to (from the configured claim)
 * @param expires when the token stops being good
 * @param groups  the identity provider's groups for the subject (from the configured claim; empty
 *                when the token has none), which a tenant's access policy may name
 * @since 1.2
 */
public record VerifiedIdentity(String issuer, String subject, String tenant, Instant expires, List<String> groups) {

    public VerifiedIdentity {
        groups = List.copyOf(groups);
    }

    /** An identity without groups. */
    public VerifiedIdentity(String issuer, String subject, String tenant, Instant expires) {
        this(issuer, subject, tenant, expires, List.of());
    }
}
