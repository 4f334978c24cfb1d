package io.cloudbridge.control.relay.internal;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import javax.sql.DataSource;

/**
 * The relay's token-signing keys in its database ({@code relay_signing_key}, made by
 * {@link RelayState}'s migrations), newest first.
 */
final class SigningKeys {
    private final DataSource db;

    SigningKeys(DataSource db) {
        this.db = db;
    }

    record Key(String kid, String privateJwk, Instant created) {
    }

    List<Key> list() throws SQLException {
        try (Connection c = db.getConnection(); PreparedStatement q = c.prepareStatement(
                "SELECT kid, private_jwk, created_at FROM relay_signing_key ORDER BY created_at DESC")) {
            List<Key> out = new ArrayList<>();
            try (ResultSet r = q.executeQuery()) {
                while (r.next()) {
                    out.add(new Key(r.getString(1), r.getString(2), r.getTimestamp(3).toInstant()));
                }
            }
            return out;
        }
    }

    void add(Key key) throws SQLException {
        try (Connection c = db.getConnection(); PreparedStatement i = c.prepareStatement(
                "INSERT INTO relay_signing_key (kid, private_jwk, created_at) VALUES (?, ?, ?)")) {
            i.setString(1, key.kid());
            i.setString(2, key.privateJwk());
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
