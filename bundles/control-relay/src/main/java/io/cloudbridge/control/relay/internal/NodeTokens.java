package io.cloudbridge.control.relay.internal;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.crypto.ECDSAVerifier;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import java.sql.SQLException;
import java.text.ParseException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.UUID;

/**
 * The relay's own node tokens: short-lived ES256 JWTs naming the node ({@code sub}), its tenant and
 * its WireGuard key, signed with a key that is replaced on a schedule. A replaced key keeps
 * verifying for one token lifetime, so tokens issued just before a rotation stay good; keys are
 * kept in the database so that a restarted relay honours what it issued.
 */
final class NodeTokens {
    static final String AUDIENCE = "cloudbridge-node";
    static final String TENANT_CLAIM = "tenant";
    static final String KEY_CLAIM = "node_key";
    /** Clocks of nodes and relay may differ this much. */
    static final Duration CLOCK_SKEW = Duration.ofSeconds(30);
    /** Anything longer is not one of ours (and is not parsed). */
    static final int MAX_TOKEN_LENGTH = 4096;

    private final RelayState state;
    private final String issuer;
    private final Duration lifetime;
    private final Duration rotation;
    private volatile List<ECKey> keys = List.of(); // newest first
    /** When the newest key is due for replacement: until then issuing a token touches no database and takes no lock. */
    private volatile Instant rotateAt = Instant.MIN;
    /**
     * ECDSA signers per thread, from BouncyCastle: its P-256 code signs in about a fifth of the time
     * JDK 17's takes (the signature was 44 % of the relay's CPU per registration), with a
     * deterministic nonce (RFC 6979). Not thread-safe, hence one per thread.
     */
    private static final ThreadLocal<org.bouncycastle.crypto.signers.ECDSASigner> SIGNERS = ThreadLocal.withInitial(
            () -> new org.bouncycastle.crypto.signers.ECDSASigner(new org.bouncycastle.crypto.signers.HMacDSAKCalculator(
                    new org.bouncycastle.crypto.digests.SHA256Digest())));
    private static final org.bouncycastle.crypto.params.ECDomainParameters P256;

    static {
        org.bouncycastle.asn1.x9.X9ECParameters curve = org.bouncycastle.crypto.ec.CustomNamedCurves.getByName("secp256r1");
        P256 = new org.bouncycastle.crypto.params.ECDomainParameters(curve.getCurve(), curve.getG(), curve.getN(), curve.getH());
    }

    /** The key that signs and the header that names it, replaced together: a token never mixes two keys. */
    private record Signing(org.bouncycastle.crypto.params.ECPrivateKeyParameters key, String header) {
    }

    private volatile Signing signing;

    NodeTokens(RelayState state, String issuer, Duration lifetime, Duration rotation) throws SQLException {
        this.state = state;
        this.issuer = issuer;
        this.lifetime = lifetime;
        this.rotation = rotation;
        load();
    }

    /** A verified token's content. */
    record Claims(String nodeId, String tenant, String nodeKey, Instant expires) {
    }

    /** Why a token was refused: said in the security log and the gRPC status, never with the token. */
    static final class Refused extends Exception {
        private static final long serialVersionUID = 1L;

        /**
         * The refusal's kind, for the meters; the message says more (and may quote the token's
         * header). BAD_SIGNATURE: not signed by a key of the relay's (another algorithm, an unknown
         * key id, a signature that fails); WRONG_ISSUER: another issuer or audience; NODE_REMOVED:
         * a good token whose node is gone or has another key now.
         */
        enum Kind { MALFORMED, BAD_SIGNATURE, WRONG_ISSUER, EXPIRED, NOT_YET_VALID, NODE_REMOVED }

        private final Kind kind;

        Refused(Kind kind, String reason) {
            super(reason, null, false, false);
            this.kind = kind;
        }

        Kind kind() {
            return kind;
        }
    }

    private synchronized void load() throws SQLException {
        List<ECKey> loaded = new ArrayList<>();
        for (SigningKeys.Key k : state.signingKeys().list()) {
            try {
                loaded.add(ECKey.parse(k.privateJwk()));
            } catch (ParseException e) {
                throw new SQLException("signing key " + k.kid() + " in the database does not parse", e);
            }
        }
        keys = List.copyOf(loaded);
    }

    /** Makes a new signing key when the newest is older than the rotation period; drops keys no token can need. */
    synchronized void rotateIfDue(Instant now) throws SQLException {
        if (now.isBefore(rotateAt)) {
            return; // another thread rotated meanwhile
        }
        List<SigningKeys.Key> stored = state.signingKeys().list();
        if (stored.isEmpty() || !stored.get(0).created().plus(rotation).isAfter(now)) {
            try {
                ECKey key = new ECKeyGenerator(Curve.P_256).keyID(UUID.randomUUID().toString())
                        .algorithm(JWSAlgorithm.ES256).generate();
                state.signingKeys().add(new SigningKeys.Key(key.getKeyID(), key.toJSONString(), now));
            } catch (JOSEException e) {
                throw new IllegalStateException("EC P-256 key generation failed", e);
            }
            // A key replaced more than a token lifetime ago has no live token left.
            state.signingKeys().deleteBefore(now.minus(rotation).minus(lifetime).minus(CLOCK_SKEW));
            load();
            stored = state.signingKeys().list();
        }
        rotateAt = stored.get(0).created().plus(rotation);
        ECKey newest = keys.get(0);
        try {
            signing = new Signing(new org.bouncycastle.crypto.params.ECPrivateKeyParameters(newest.toECPrivateKey().getS(), P256),
                    java.util.Base64.getUrlEncoder().withoutPadding().encodeToString(
                            new JWSHeader.Builder(JWSAlgorithm.ES256).keyID(newest.getKeyID()).type(JOSEObjectType.JWT).build()
                                    .toString().getBytes(java.nio.charset.StandardCharsets.UTF_8)));
        } catch (JOSEException e) {
            throw new IllegalStateException("our own EC key does not convert", e);
        }
    }

    /** The public keys, for the relay's JWKS. */
    String jwks() {
        return new JWKSet(new ArrayList<>(keys)).toPublicJWKSet().toString();
    }

    Instant issue(String nodeId, String tenant, String nodeKey, Instant now, StringBuilder out) throws SQLException {
        if (!now.isBefore(rotateAt)) {
            rotateIfDue(now);
        }
        Instant expires = now.plus(lifetime);
        JWTClaimsSet claims = new JWTClaimsSet.Builder().issuer(issuer).audience(AUDIENCE).subject(nodeId)
                .claim(TENANT_CLAIM, tenant).claim(KEY_CLAIM, nodeKey).issueTime(Date.from(now))
                .notBeforeTime(Date.from(now)).expirationTime(Date.from(expires)).jwtID(UUID.randomUUID().toString()).build();
        // header.payload.signature (RFC 7515 compact form), signed as RFC 7518 3.4 says for ES256.
        Signing with = signing;
        String signingInput = with.header() + "." + java.util.Base64.getUrlEncoder().withoutPadding()
                .encodeToString(claims.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
        org.bouncycastle.crypto.digests.SHA256Digest sha = new org.bouncycastle.crypto.digests.SHA256Digest();
        byte[] input = signingInput.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        byte[] digest = new byte[32];
        sha.update(input, 0, input.length);
        sha.doFinal(digest, 0);
        org.bouncycastle.crypto.signers.ECDSASigner signer = SIGNERS.get();
        signer.init(true, with.key());
        java.math.BigInteger[] rs = signer.generateSignature(digest);
        // JWS's form of an ES256 signature: r and s, 32 bytes each, big-endian (RFC 7518 3.4).
        byte[] signature = new byte[64];
        System.arraycopy(org.bouncycastle.util.BigIntegers.asUnsignedByteArray(32, rs[0]), 0, signature, 0, 32);
        System.arraycopy(org.bouncycastle.util.BigIntegers.asUnsignedByteArray(32, rs[1]), 0, signature, 32, 32);
        out.append(signingInput).append('.').append(java.util.Base64.getUrlEncoder().withoutPadding().encodeToString(signature));
        return expires;
    }

    /** Verifies a presented token: our signature (ES256 only, known key id), issuer, audience, times. */
    Claims verify(String token, Instant now) throws Refused {
        if (token == null || token.isEmpty()) {
            throw new Refused(Refused.Kind.MALFORMED, "no token");
        }
        if (token.length() > MAX_TOKEN_LENGTH) {
            throw new Refused(Refused.Kind.MALFORMED, "token too long");
        }
        SignedJWT jwt;
        try {
            jwt = SignedJWT.parse(token);
        } catch (ParseException e) {
            throw new Refused(Refused.Kind.MALFORMED, "malformed token"); // includes unsigned ("alg": "none") tokens
        }
        // Only the algorithm we sign with: no "none", no HS256 keyed with our public key.
        if (!JWSAlgorithm.ES256.equals(jwt.getHeader().getAlgorithm())) {
            throw new Refused(Refused.Kind.BAD_SIGNATURE, "algorithm not allowed: " + jwt.getHeader().getAlgorithm());
        }
        String kid = jwt.getHeader().getKeyID();
        ECKey key = keys.stream().filter(k -> k.getKeyID().equals(kid)).findFirst().orElse(null);
        if (key == null) {
            throw new Refused(Refused.Kind.BAD_SIGNATURE, "unknown key id");
        }
        try {
            if (!jwt.verify(new ECDSAVerifier(key.toECPublicKey()))) {
                throw new Refused(Refused.Kind.BAD_SIGNATURE, "bad signature");
            }
        } catch (JOSEException e) {
            throw new Refused(Refused.Kind.BAD_SIGNATURE, "bad signature");
        }
        JWTClaimsSet c;
        try {
            c = jwt.getJWTClaimsSet();
        } catch (ParseException e) {
            throw new Refused(Refused.Kind.MALFORMED, "malformed claims");
        }
        if (!issuer.equals(c.getIssuer())) {
            throw new Refused(Refused.Kind.WRONG_ISSUER, "wrong issuer");
        }
        if (c.getAudience() == null || !c.getAudience().contains(AUDIENCE)) {
            throw new Refused(Refused.Kind.WRONG_ISSUER, "wrong audience");
        }
        if (c.getExpirationTime() == null || !now.minus(CLOCK_SKEW).isBefore(c.getExpirationTime().toInstant())) {
            throw new Refused(Refused.Kind.EXPIRED, "expired");
        }
        if (c.getNotBeforeTime() != null && now.plus(CLOCK_SKEW).isBefore(c.getNotBeforeTime().toInstant())) {
            throw new Refused(Refused.Kind.NOT_YET_VALID, "not yet valid");
        }
        Object tenant = c.getClaim(TENANT_CLAIM);
        Object nodeKey = c.getClaim(KEY_CLAIM);
        if (c.getSubject() == null || !(tenant instanceof String t) || !(nodeKey instanceof String k)) {
            throw new Refused(Refused.Kind.MALFORMED, "claims missing");
        }
        return new Claims(c.getSubject(), t, k, c.getExpirationTime().toInstant());
    }
}
