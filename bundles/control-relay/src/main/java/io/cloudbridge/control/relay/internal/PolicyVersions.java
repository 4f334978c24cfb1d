package io.cloudbridge.control.relay.internal;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import javax.sql.DataSource;

/**
 * Tenants' policies in the relay's database ({@code relay_policy}, made by {@link RelayState}'s
 * migrations): every version kept, with its text, its hash, who set it and when; the highest is
 * in force.
 */
final class PolicyVersions {
    private final DataSource db;

    PolicyVersions(DataSource db) {
        this.db = db;
    }

    /** Stores the next version of a tenant's policy (null text: none) and returns it. */
    PolicyVersion add(String tenant, String text, String createdBy, Instant now) throws SQLException {
        try (Connection c = db.getConnection()) {
            c.setAutoCommit(false);
            try {
                long next;
                try (PreparedStatement q = c.prepareStatement("SELECT COALESCE(MAX(version), 0) FROM relay_policy WHERE tenant = ?")) {
                    q.setString(1, tenant);
                    try (ResultSet r = q.executeQuery()) {
                        r.next();
                        next = r.getLong(1) + 1;
                    }
                }
                PolicyVersion v = new PolicyVersion(tenant, next, text, text == null ? "" : RelayState.sha256(text), createdBy, now);
                try (PreparedStatement i = c.prepareStatement("INSERT INTO relay_policy (tenant, version, policy_text, sha256,"
                        + " created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)")) {
                    i.setString(1, tenant);
                    i.setLong(2, next);
                    i.setString(3, text);
                    i.setString(4, v.sha256());
                    i.setString(5, createdBy);
                    i.setTimestamp(6, Timestamp.from(now));
                    i.executeUpdate();
                }
                c.commit();
                return v;
            } catch (SQLException | RuntimeException e) {
                c.rollback();
                throw e; // two administrators at once: the second finds the version taken and tries again
            } finally {
                c.setAutoCommit(true);
            }
        }
    }

    /** The tenant's policy in force (its highest version), if it ever had one. */
    Optional<PolicyVersion> current(String tenant) throws SQLException {
        List<PolicyVersion> all = list(tenant, 1);
        return all.isEmpty() ? Optional.empty() : Optional.of(all.get(0));
    }

    /** The tenant's policy versions, newest first, at most {@code limit}. */
    List<PolicyVersion> list(String tenant, int limit) throws SQLException {
        try (Connection c = db.getConnection(); PreparedStatement q = c.prepareStatement(
                "SELECT * FROM relay_policy WHERE tenant = ? ORDER BY version DESC")) {
            q.setString(1, tenant);
            q.setMaxRows(limit);
            List<PolicyVersion> out = new ArrayList<>();
            try (ResultSet r = q.executeQuery()) {
                while (r.next()) {
                    out.add(new PolicyVersion(r.getString("tenant"), r.getLong("version"), r.getString("policy_text"),
                            r.getString("sha256"), r.getString("created_by"), r.getTimestamp("created_at").toInstant()));
                }
            }
            return out;
        }
    }
}
