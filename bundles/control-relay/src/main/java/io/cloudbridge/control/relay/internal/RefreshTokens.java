package io.cloudbridge.control.relay.internal;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.Optional;
import javax.sql.DataSource;

/**
 * Nodes' refresh tokens in the relay's database ({@code relay_refresh_token}, made by
 * {@link RelayState}'s migrations), kept as SHA-256 hashes: one live token per node, each good once.
 */
final class RefreshTokens {
    private final DataSource db;

    RefreshTokens(DataSource db) {
        this.db = db;
    }

    /**
     * A new refresh token for the node, replacing any it had: one live refresh token per node, so
     * that sign-ins and restarts leave no valid token behind that nobody holds.
     */
    String create(String nodeId, Instant expires) throws SQLException {
        String secret = RelayState.randomSecret();
        try (Connection c = db.getConnection()) {
            c.setAutoCommit(false);
            try {
                try (PreparedStatement d = c.prepareStatement("DELETE FROM relay_refresh_token WHERE node_id = ?")) {
                    d.setString(1, nodeId);
                    d.executeUpdate();
                }
                try (PreparedStatement i = c.prepareStatement(
                        "INSERT INTO relay_refresh_token (token_hash, node_id, expires_at) VALUES (?, ?, ?)")) {
                    i.setString(1, RelayState.sha256(secret));
                    i.setString(2, nodeId);
                    i.setTimestamp(3, Timestamp.from(expires));
                    i.executeUpdate();
                }
                c.commit();
            } catch (SQLException e) {
                c.rollback();
                throw e;
            }
        }
        return secret;
    }

    /**
     * Uses a refresh token up (each is good once); returns its node when it was valid. {@code admit}
     * hears the node of a live token before it is used up, and refuses the renewal by throwing: the
     * token then stays good.
     */
    Optional<String> use(String secret, Instant now, java.util.function.Consumer<String> admit) throws SQLException {
        if (secret == null || secret.isEmpty() || secret.length() > 64) {
            return Optional.empty();
        }
        String hash = RelayState.sha256(secret);
        try (Connection c = db.getConnection()) {
            String node;
            Instant expires;
            try (PreparedStatement q = c.prepareStatement("SELECT node_id, expires_at FROM relay_refresh_token WHERE token_hash = ?")) {
                q.setString(1, hash);
                try (ResultSet r = q.executeQuery()) {
                    if (!r.next()) {
                        return Optional.empty();
                    }
                    node = r.getString(1);
                    expires = r.getTimestamp(2).toInstant();
                }
            }
            if (now.isBefore(expires)) {
                admit.accept(node);
            }
            try (PreparedStatement d = c.prepareStatement("DELETE FROM relay_refresh_token WHERE token_hash = ?")) {
                d.setString(1, hash);
                if (d.executeUpdate() != 1) {
                    return Optional.empty(); // used by a racing call
                }
            }
            return now.isBefore(expires) ? Optional.of(node) : Optional.empty();
        }
    }
}
