package io.cloudbridge.auth.oidc.internal;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.jwk.source.JWKSource;
import com.nimbusds.jose.jwk.source.JWKSourceBuilder;
import com.nimbusds.jose.proc.BadJOSEException;
import com.nimbusds.jose.proc.DefaultJOSEObjectTypeVerifier;
import com.nimbusds.jose.proc.JWSVerificationKeySelector;
import com.nimbusds.jose.proc.SecurityContext;
import com.nimbusds.jose.util.DefaultResourceRetriever;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.proc.DefaultJWTClaimsVerifier;
import com.nimbusds.jwt.proc.DefaultJWTProcessor;
import io.cloudbridge.api.auth.CredentialRejectedException;
import io.cloudbridge.api.auth.IdentityVerifier;
import io.cloudbridge.api.auth.VerifiedIdentity;
import java.io.IOException;
import java.text.ParseException;
import java.util.HashSet;
import java.util.Set;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.metatype.annotations.Designate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Verifies the OpenID Provider's access tokens for the relay: a JWT signed with an allowed
 * algorithm by a key of the provider's JWKS (cached; fetched again, at most every
 * {@code jwksRefetchSeconds}, when a token names a key not seen yet), of type {@code at+jwt} or
 * {@code JWT}, whose {@code iss}, {@code aud}, {@code exp} and {@code nbf} hold with a small clock
 * skew, and that names its tenant in the configured claim.
 */
@Component(service = IdentityVerifier.class, configurationPid = "cloudbridge.identity",
        configurationPolicy = ConfigurationPolicy.REQUIRE)
@Designate(ocd = IdentityConfig.class)
public final class OidcTokenVerifier implements IdentityVerifier {
    private static final Logger LOG = LoggerFactory.getLogger(OidcTokenVerifier.class);
    static final int MAX_TOKEN_LENGTH = 16 * 1024;

    private IdentityConfig config;
    private volatile DefaultJWTProcessor<SecurityContext> processor;
    /**
     * Until when a failed discovery is not tried again: while the provider is down, sign-ins are
     * refused at once instead of each waiting for a connection (serialised, up to 10 s each).
     */
    private volatile long retryDiscoveryAt;
    private volatile boolean discoveryFailed;
    static final long DISCOVERY_RETRY_NANOS = java.util.concurrent.TimeUnit.SECONDS.toNanos(10);

    @Activate
    void activate(IdentityConfig c) throws IOException {
        OidcEndpoints.checkIssuer(c.issuer());
        for (String a : c.algorithms()) {
            JWSAlgorithm alg = JWSAlgorithm.parse(a);
            if (a.equalsIgnoreCase("none") || JWSAlgorithm.Family.HMAC_SHA.contains(alg)) {
                throw new IOException("identity.algorithms: " + a + " is never accepted for a provider's tokens");
            }
        }
        config = c;
    }

    /** The processor, set up on first use so that a provider down at the relay's start delays nothing. */
    private DefaultJWTProcessor<SecurityContext> processor() throws CredentialRejectedException {
        DefaultJWTProcessor<SecurityContext> p = processor;
        if (p != null) {
            return p;
        }
        if (discoveryFailed && System.nanoTime() - retryDiscoveryAt < 0) {
            throw new CredentialRejectedException("the identity provider is unreachable");
        }
        synchronized (this) {
            if (processor != null) {
                return processor;
            }
            if (discoveryFailed && System.nanoTime() - retryDiscoveryAt < 0) {
                throw new CredentialRejectedException("the identity provider is unreachable");
            }
            OidcEndpoints endpoints;
            try {
                endpoints = OidcEndpoints.discover(config.issuer());
                JWKSource<SecurityContext> keys = JWKSourceBuilder.<SecurityContext>create(endpoints.jwks.toURL(),
                                new DefaultResourceRetriever(5_000, 5_000, 256 * 1024))
                        .cache(true)
                        .rateLimited(config.jwksRefetchSeconds() * 1000L)
                        .retrying(false)
                        .build();
                Set<JWSAlgorithm> algorithms = new HashSet<>();
                for (String a : config.algorithms()) {
                    algorithms.add(JWSAlgorithm.parse(a));
                }
                p = new DefaultJWTProcessor<>();
                p.setJWSTypeVerifier(new DefaultJOSEObjectTypeVerifier<>(new JOSEObjectType("at+jwt"), JOSEObjectType.JWT, null));
                p.setJWSKeySelector(new JWSVerificationKeySelector<>(algorithms, keys));
                DefaultJWTClaimsVerifier<SecurityContext> claims = new DefaultJWTClaimsVerifier<>(Set.of(config.audience()),
                        new JWTClaimsSet.Builder().issuer(config.issuer()).build(), Set.of("sub", "exp"), null);
                claims.setMaxClockSkew(config.clockSkewSeconds());
                p.setJWTClaimsSetVerifier(claims);
            } catch (IOException e) {
                LOG.warn("cannot reach the OpenID Provider {}: {}", config.issuer(), e.getMessage());
                retryDiscoveryAt = System.nanoTime() + DISCOVERY_RETRY_NANOS;
                discoveryFailed = true;
                throw new CredentialRejectedException("the identity provider is unreachable");
            }
            processor = p;
            return p;
        }
    }

    @Override
    public VerifiedIdentity verify(String accessToken) throws CredentialRejectedException {
        if (accessToken == null || accessToken.isEmpty()) {
            throw new CredentialRejectedException("no token");
        }
        if (accessToken.length() > MAX_TOKEN_LENGTH) {
            throw new CredentialRejectedException("token too long");
        }
        JWTClaimsSet claims;
        try {
            claims = processor().process(accessToken, null);
        } catch (ParseException e) {
            throw new CredentialRejectedException("malformed token");
        } catch (BadJOSEException e) {
            throw new CredentialRejectedException(reason(e.getMessage()));
        } catch (JOSEException e) {
            throw new CredentialRejectedException("token not verifiable: " + e.getMessage());
        }
        Object tenant = claims.getClaim(config.tenantClaim());
        if (!(tenant instanceof String t) || !t.matches("[A-Za-z0-9._-]{1,128}")) {
            throw new CredentialRejectedException("no tenant in claim '" + config.tenantClaim() + "'");
        }
        return new VerifiedIdentity(claims.getIssuer(), claims.getSubject(), t, claims.getExpirationTime().toInstant(),
                groups(claims.getClaim(config.groupsClaim())));
    }

    static final int MAX_GROUPS = 256;

    /**
     * The groups claim as a list of names: a JSON array of strings (or one string). Names that an
     * access policy could not write (idp:NAME) are left out; more than {@link #MAX_GROUPS} refuse
     * the token rather than keep an arbitrary part of them, which could leave out a group a deny
     * rule names.
     */
    static java.util.List<String> groups(Object claim) throws CredentialRejectedException {
        java.util.List<?> values = claim instanceof java.util.List<?> l ? l : claim instanceof String s ? java.util.List.of(s)
                : java.util.List.of();
        if (values.size() > MAX_GROUPS) {
            throw new CredentialRejectedException("more than " + MAX_GROUPS + " groups in the token");
        }
        java.util.List<String> out = new java.util.ArrayList<>();
        for (Object v : values) {
            if (v instanceof String g && g.matches("[A-Za-z0-9._@+=-]{1,128}")) {
                out.add(g);
            }
        }
        return out;
    }

    /** Nimbus's long messages, reduced to the reasons the security log and the gRPC status give. */
    static String reason(String message) {
        String m = message == null ? "" : message;
        if (m.contains("Expired JWT")) {
            return "expired";
        }
        if (m.contains("before use time") || m.contains("nbf")) {
            return "not yet valid";
        }
        if (m.contains("audience")) {
            return "wrong audience";
        }
        if (m.contains("iss")) {
            return "wrong issuer";
        }
        if (m.contains("Invalid signature")) {
            return "bad signature";
        }
        if (m.contains("no matching key") || m.contains("Another algorithm expected")) {
            return "unknown key or algorithm not allowed";
        }
        if (m.contains("Unsigned") || m.contains("plain")) {
            return "unsigned token";
        }
        if (m.contains("type")) {
            return "not an access token (typ)";
        }
        return "token refused: " + m;
    }
}
