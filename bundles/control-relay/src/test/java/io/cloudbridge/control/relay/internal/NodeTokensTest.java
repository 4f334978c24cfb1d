package io.cloudbridge.control.relay.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jwt.SignedJWT;
import java.time.Duration;
import java.time.Instant;
import org.h2.jdbcx.JdbcConnectionPool;
import org.junit.jupiter.api.Test;

/** The signing key rotates on schedule; tokens of the previous key verify for one lifetime more, then not. */
class NodeTokensTest {
    @Test
    void rotationKeepsThePreviousKeyForOneTokenLifetime() throws Exception {
        JdbcConnectionPool db = JdbcConnectionPool.create("jdbc:h2:mem:tokens;DB_CLOSE_DELAY=-1", "", "");
        try {
            Duration lifetime = Duration.ofMinutes(15);
            Duration rotation = Duration.ofHours(1);
            NodeTokens tokens = new NodeTokens(new RelayState(db, io.cloudbridge.store.FleetKeySealer.NONE), "relay", lifetime, rotation);
            Instant t0 = Instant.parse("2026-11-25T10:00:00Z");
            StringBuilder first = new StringBuilder();
            tokens.issue("n1", "acme", "key", t0, first);
            String firstKid = SignedJWT.parse(first.toString()).getHeader().getKeyID();

            // Just past the rotation: a new key signs; the old one still verifies its last tokens.
            Instant t1 = t0.plus(rotation).plusSeconds(1);
            StringBuilder lastOfOld = new StringBuilder();
            tokens.issue("n1", "acme", "key", t0.plus(rotation).minusSeconds(1), lastOfOld);
            StringBuilder second = new StringBuilder();
            tokens.issue("n1", "acme", "key", t1, second);
            assertNotEquals(firstKid, SignedJWT.parse(second.toString()).getHeader().getKeyID(), "a new key after the rotation");
            assertEquals(2, JWKSet.parse(tokens.jwks()).getKeys().size(), "both keys published");
            assertEquals("n1", tokens.verify(lastOfOld.toString(), t1.plusSeconds(60)).nodeId());

            // A restarted relay (a new instance on the same database) honours both.
            NodeTokens restarted = new NodeTokens(new RelayState(db, io.cloudbridge.store.FleetKeySealer.NONE), "relay", lifetime, rotation);
            assertEquals("n1", restarted.verify(second.toString(), t1).nodeId());
            assertEquals("n1", restarted.verify(lastOfOld.toString(), t1).nodeId());

            // After the next rotation plus a lifetime, the first key is gone and its tokens with it.
            Instant t2 = t1.plus(rotation).plus(lifetime).plus(NodeTokens.CLOCK_SKEW).plusSeconds(5);
            tokens.rotateIfDue(t2);
            NodeTokens.Refused refused = assertThrows(NodeTokens.Refused.class, () -> tokens.verify(first.toString(), t0.plusSeconds(60)));
            assertEquals("unknown key id", refused.getMessage());
        } finally {
            db.dispose();
        }
    }
}
