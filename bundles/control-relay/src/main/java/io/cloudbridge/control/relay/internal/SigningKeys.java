package io.cloudbridge.control.relay.internal;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import io.cloudbridge.store.SecretSealer;
import javax.sql.DataSource;

/**
 * The relay's token-signing keys in its database ({@code relay_signing_key}, made by
 * {@link RelayState}'s migrations), newest first. The private keys are sealed with the fleet key
 * where the relay has one ({@link SecretSealer}); a key stored in the clear before the fleet key
 * was configured is sealed in place when it is next read.
 */
final class SigningKeys {
    private final DataSource db;
    private final SecretSealer secrets;

    SigningKeys(DataSource db, SecretSealer secrets) {
        this.db = db;
        this.secrets = secrets;
    }

    /** What a sealed key is bound to: its table and its key id (it opens in no other row). */
    private static String context(String kid) {
        return "relay_signing_key:" + kid;
    }

    record Key(String kid, String privateJwk, Instant created) {
    }

    List<Key> list() throws SQLException {
        try (Connection c = db.getConnection(); PreparedStatement q = c.prepareStatement(
                "SELECT kid, private_jwk, created_at FROM relay_signing_key ORDER BY created_at DESC")) {
            List<Key> out = new ArrayList<>();
            List<Key> inTheClear = new ArrayList<>();
            try (ResultSet r = q.executeQuery()) {
                while (r.next()) {
                    String kid = r.getString(1);
                    String stored = r.getString(2);
                    Key key = new Key(kid, secrets.open(stored, context(kid)), r.getTimestamp(3).toInstant());
                    out.add(key);
                    if (secrets.sealing() && !secrets.isSealed(stored)) {
                        inTheClear.add(key);
                    }
                }
            }
            for (Key key : inTheClear) {
                // (Only if it is still the value read: another relay may have sealed it meanwhile.)
                try (PreparedStatement u = c.prepareStatement(
                        "UPDATE relay_signing_key SET private_jwk = ? WHERE kid = ? AND private_jwk = ?")) {
                    u.setString(1, secrets.seal(key.privateJwk(), context(key.kid())));
                    u.setString(2, key.kid());
                    u.setString(3, key.privateJwk());
                    u.executeUpdate();
                } catch (SQLException e) {
                    // A database this relay may read but not write (a standby, a read-only role): the
                    // keys read fine, and sealing them can wait for a relay that may write.
                    org.slf4j.LoggerFactory.getLogger(SigningKeys.class).warn(
                            "token-signing key {} is stored in the clear and could not be sealed now: {}", key.kid(), e.getMessage());
                }
            }
            return out;
        }
    }

    void add(Key key) throws SQLException {
        try (Connection c = db.getConnection(); PreparedStatement i = c.prepareStatement(
                "INSERT INTO relay_signing_key (kid, private_jwk, created_at) VALUES (?, ?, ?)")) {
            i.setString(1, key.kid());
            i.setString(2, secrets.seal(key.privateJwk(), context(key.kid())));
            i.setTimestamp(3, Timestamp.from(key.created()));
            i.executeUpdate();
        }
    }

    void deleteBefore(Instant cutoff) throws SQLException {
        try (Connection c = db.getConnection(); PreparedStatement d = c.prepareStatement(
                "DELETE FROM relay_signing_key WHERE created_at < ?")) {
            d.setTimestamp(1, Timestamp.from(cutoff));
            d.executeUpdate();
        }
    }
}
