package io.cloudbridge.control.relay.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.nimbusds.jwt.SignedJWT;
import io.cloudbridge.store.FleetKeySealer;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import org.h2.jdbcx.JdbcConnectionPool;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The token-signing keys at rest: sealed with the fleet key, and sealed in place once one is configured. */
class SigningKeysTest {
    @TempDir
    Path dir;

    @Test
    void keysStoredInTheClearAreSealedWhenAFleetKeyIsConfiguredAndTokensStillVerify() throws Exception {
        JdbcConnectionPool db = JdbcConnectionPool.create("jdbc:h2:mem:signing;DB_CLOSE_DELAY=-1", "", "");
        try {
            Duration lifetime = Duration.ofMinutes(15);
            Instant now = Instant.now();
            NodeTokens before = new NodeTokens(new RelayState(db, FleetKeySealer.NONE), "relay", lifetime, Duration.ofHours(1));
            before.rotateIfDue(now);
            StringBuilder token = new StringBuilder();
            before.issue("n1", "acme", "key", now, token);
            assertTrue(stored(db).startsWith("{"), "without a fleet key the key is stored as it was");

            // The relay restarts with a fleet key: the same key signs on, now sealed in the database.
            FleetKeySealer fleet = RelayFixture.fleetKey(dir);
            NodeTokens after = new NodeTokens(new RelayState(db, fleet), "relay", lifetime, Duration.ofHours(1));
            after.rotateIfDue(now);
            assertEquals("n1", after.verify(token.toString(), now).nodeId(), "a token signed before still verifies");
            String sealed = stored(db);
            assertTrue(sealed.startsWith("sealed:v1:") && !sealed.contains("\"d\""), sealed);
            StringBuilder next = new StringBuilder();
            after.issue("n2", "acme", "key2", now, next);
            assertEquals(SignedJWT.parse(token.toString()).getHeader().getKeyID(), SignedJWT.parse(next.toString()).getHeader().getKeyID());

            // A relay without the fleet's key cannot use the database's keys, and says why.
            SQLException refused = assertThrows(SQLException.class, () -> new RelayState(db, FleetKeySealer.NONE).signingKeys().list());
            assertTrue(refused.getMessage().contains("database.fleetKeyFile"), refused.getMessage());
        } finally {
            db.dispose();
        }
    }

    private static String stored(JdbcConnectionPool db) throws SQLException {
        try (Connection c = db.getConnection(); ResultSet r = c.createStatement().executeQuery("SELECT private_jwk FROM relay_signing_key")) {
            assertTrue(r.next());
            return r.getString(1);
        }
    }
}
