package io.cloudbridge.control.relay.internal;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.testing.TestDatabase;
import java.sql.Connection;
import java.sql.ResultSet;
import org.junit.jupiter.api.Test;

/**
 * The control service's end-to-end tests again, on a real PostgreSQL server (the database a fleet
 * of relays shares): the same migrations, registrations, tokens, maps and revocations, with the
 * token-signing keys sealed by a fleet key.
 */
class RelayControlOnPostgresTest extends RelayControlTest {
    @Override
    RelayFixture fixture(RelayConfig config) throws Exception {
        return new RelayFixture(config, TestDatabase.postgres());
    }

    @Test
    void theSigningKeysInTheSharedDatabaseAreSealed() throws Exception {
        int keys = 0;
        try (Connection c = relay.pool.getConnection();
                ResultSet r = c.createStatement().executeQuery("SELECT kid, private_jwk FROM relay_signing_key")) {
            while (r.next()) {
                keys++;
                String stored = r.getString(2);
                assertTrue(stored.startsWith("sealed:v1:"), "stored sealed: " + stored);
                assertFalse(stored.contains("\"d\""), "no private key member in the clear");
            }
        }
        assertTrue(keys > 0, "the relay made a signing key");
    }
}
