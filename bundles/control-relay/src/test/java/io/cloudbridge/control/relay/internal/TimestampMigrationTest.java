package io.cloudbridge.control.relay.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.cloudbridge.store.FleetKeySealer;
import io.cloudbridge.store.Migrations;
import io.cloudbridge.testing.TestDatabase;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.List;
import java.util.TimeZone;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The relay's times are instants (TIMESTAMP WITH TIME ZONE): what one relay writes, a relay in
 * another time zone reads as the same instant, and the values written before the migration keep
 * their instant. On both engines.
 */
class TimestampMigrationTest {
    @TempDir
    Path dir;

    @Test
    void onH2() throws Exception {
        check(TestDatabase.h2(dir));
    }

    @Test
    void onPostgresql() throws Exception {
        check(TestDatabase.postgres());
    }

    private static void check(TestDatabase database) throws Exception {
        TimeZone before = TimeZone.getDefault();
        Instant expires = Instant.parse("2026-12-07T12:00:00Z");
        try {
            // Written by a relay of the previous version in UTC-10.
            TimeZone.setDefault(TimeZone.getTimeZone("Pacific/Honolulu"));
            try (TestDatabase.Pool old = database.open()) {
                Migrations.migrate(old.dataSource(), RelayState.SCHEMA, RelayState.class, List.of("relay/V1__relay.sql",
                        "relay/V2__refresh_token_by_node.sql", "relay/V3__member_keys.sql", "relay/V4__policy.sql"));
                insertRefreshToken(old.dataSource(), "before", "n1", expires);
                // Migrated by this version, still in that zone: the value keeps its instant.
                new RelayState(old.dataSource(), FleetKeySealer.NONE);
                insertRefreshToken(old.dataSource(), "after", "n2", expires);
            }
            // Read by a relay in UTC+14: the same instants.
            TimeZone.setDefault(TimeZone.getTimeZone("Pacific/Kiritimati"));
            try (TestDatabase.Pool far = database.open(); Connection c = far.dataSource().getConnection();
                    ResultSet r = c.createStatement().executeQuery("SELECT token_hash, expires_at FROM relay_refresh_token ORDER BY token_hash")) {
                r.next();
                assertEquals("after", r.getString(1));
                assertEquals(expires, r.getTimestamp(2).toInstant(), database + ": written after the migration");
                r.next();
                assertEquals("before", r.getString(1));
                assertEquals(expires, r.getTimestamp(2).toInstant(), database + ": written before the migration");
            }
        } finally {
            TimeZone.setDefault(before);
        }
    }

    private static void insertRefreshToken(javax.sql.DataSource db, String hash, String node, Instant expires) throws java.sql.SQLException {
        try (Connection c = db.getConnection(); PreparedStatement i = c.prepareStatement(
                "INSERT INTO relay_refresh_token (token_hash, node_id, expires_at) VALUES (?, ?, ?)")) {
            i.setString(1, hash);
            i.setString(2, node);
            i.setTimestamp(3, Timestamp.from(expires));
            i.executeUpdate();
        }
    }
}
