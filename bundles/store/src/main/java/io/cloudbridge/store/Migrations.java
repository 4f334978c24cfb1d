package io.cloudbridge.store;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Versioned schema migrations for one component's tables. A component names its schema (its own
 * line of versions, so bundles that share the database evolve independently) and lists its scripts
 * in order; each script runs once, in a transaction with its record in {@code schema_history}.
 * Scripts are plain, portable SQL, one statement per line-ending {@code ;}.
 *
 * <p>Where DDL is not transactional (H2 commits each {@code CREATE}), a script that fails half-way
 * is not recorded and runs again next time: write scripts so that a re-run completes them
 * ({@code CREATE TABLE IF NOT EXISTS}, {@code CREATE INDEX IF NOT EXISTS}). Two migrations racing
 * collide on the history's primary key; the loser rolls back and fails.
 */
public final class Migrations {
    private static final Logger LOG = LoggerFactory.getLogger(Migrations.class);

    private Migrations() {
    }

    /**
     * Brings {@code schema} up to the last of {@code scripts}: resource paths in {@code owner}'s
     * class loader, version 1 first.
     *
     * @return the version the schema is at afterwards
     */
    public static int migrate(DataSource dataSource, String schema, Class<?> owner, List<String> scripts) throws SQLException {
        try (Connection c = dataSource.getConnection()) {
            try (Statement s = c.createStatement()) {
                s.execute("CREATE TABLE IF NOT EXISTS schema_history (schema_name VARCHAR(64) NOT NULL, "
                        + "version INT NOT NULL, script VARCHAR(200) NOT NULL, applied_at TIMESTAMP NOT NULL, "
                        + "PRIMARY KEY (schema_name, version))");
            }
            int current = currentVersion(c, schema);
            if (current > scripts.size()) {
                throw new SQLException("schema " + schema + " is at version " + current + ", newer than this software ("
                        + scripts.size() + "): refusing to run against it");
            }
            for (int version = current + 1; version <= scripts.size(); version++) {
                String script = scripts.get(version - 1);
                boolean autoCommit = c.getAutoCommit();
                c.setAutoCommit(false);
                try (Statement s = c.createStatement()) {
                    for (String statement : statements(read(owner, script))) {
                        s.execute(statement);
                    }
                    try (PreparedStatement record = c.prepareStatement(
                            "INSERT INTO schema_history (schema_name, version, script, applied_at) VALUES (?, ?, ?, CURRENT_TIMESTAMP)")) {
                        record.setString(1, schema);
                        record.setInt(2, version);
                        record.setString(3, script);
                        record.executeUpdate();
                    }
                    c.commit();
                    LOG.info("schema {} migrated to version {} ({})", schema, version, script);
                } catch (SQLException | RuntimeException e) {
                    c.rollback();
                    throw e instanceof SQLException sql ? sql : new SQLException("migration " + script + " failed", e);
                } finally {
                    c.setAutoCommit(autoCommit);
                }
            }
            return Math.max(current, scripts.size());
        }
    }

    static int currentVersion(Connection c, String schema) throws SQLException {
        try (PreparedStatement q = c.prepareStatement("SELECT MAX(version) FROM schema_history WHERE schema_name = ?")) {
            q.setString(1, schema);
            try (ResultSet r = q.executeQuery()) {
                return r.next() ? r.getInt(1) : 0;
            }
        }
    }

    private static String read(Class<?> owner, String script) throws SQLException {
        try (InputStream in = owner.getResourceAsStream(script.startsWith("/") ? script : "/" + script)) {
            if (in == null) {
                throw new SQLException("migration script " + script + " is missing from " + owner.getName() + "'s bundle");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new SQLException("cannot read migration script " + script, e);
        }
    }

    /** The statements of a script: split at semicolons ending a line; comment lines dropped. */
    static List<String> statements(String script) {
        List<String> out = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        for (String line : script.split("\n")) {
            String trimmed = line.trim();
            if (trimmed.startsWith("--") || trimmed.isEmpty()) {
                continue;
            }
            current.append(line).append('\n');
            if (trimmed.endsWith(";")) {
                String statement = current.toString().trim();
                out.add(statement.substring(0, statement.length() - 1));
                current.setLength(0);
            }
        }
        if (!current.toString().isBlank()) {
            out.add(current.toString().trim());
        }
        return out;
    }
}
