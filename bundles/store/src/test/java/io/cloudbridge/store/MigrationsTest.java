package io.cloudbridge.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.List;
import io.cloudbridge.testing.TestDatabase;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The same scripts run on both engines: embedded H2 here, PostgreSQL in {@link MigrationsOnPostgresTest}. */
class MigrationsTest {
    @TempDir
    Path dir;

    TestDatabase database(Path folder) {
        return TestDatabase.h2(folder);
    }

    @Test
    void scriptsRunOnceInOrderAndSurviveAReopen() throws Exception {
        TestDatabase database = database(dir);
        TestDatabase.Pool first = database.open();
        var pool = first.dataSource();
        assertEquals(1, Migrations.migrate(pool, "test", MigrationsTest.class, List.of("migrations-test/V1.sql")));
        assertEquals(2, Migrations.migrate(pool, "test", MigrationsTest.class, List.of("migrations-test/V1.sql", "migrations-test/V2.sql")));
        first.close();

        TestDatabase.Pool reopened = database.open();
        var again = reopened.dataSource();
        assertEquals(2, Migrations.migrate(again, "test", MigrationsTest.class, List.of("migrations-test/V1.sql", "migrations-test/V2.sql")));
        try (Connection c = again.getConnection(); ResultSet r = c.createStatement().executeQuery("SELECT COUNT(*), MAX(label) FROM item")) {
            r.next();
            assertEquals(2, r.getInt(1), "each script's insert ran once");
        }
        // Another schema's line of versions is its own.
        assertEquals(0, Migrations.migrate(again, "other", MigrationsTest.class, List.of()));
        // Software older than the database refuses it.
        assertThrows(SQLException.class, () -> Migrations.migrate(again, "test", MigrationsTest.class, List.of("migrations-test/V1.sql")));
        reopened.close();
    }

    @Test
    void aFailingScriptIsNotRecordedAndItsFixedVersionCompletes() throws Exception {
        TestDatabase.Pool opened = database(dir).open();
        var pool = opened.dataSource();
        assertThrows(SQLException.class, () -> Migrations.migrate(pool, "bad", MigrationsTest.class, List.of("migrations-test/Broken.sql")));
        try (Connection c = pool.getConnection()) {
            assertEquals(0, Migrations.currentVersion(c, "bad"), "a failed script is not recorded");
        }
        // The fixed script re-runs its first statement (IF NOT EXISTS) and completes.
        assertEquals(1, Migrations.migrate(pool, "bad", MigrationsTest.class, List.of("migrations-test/Fixed.sql")));
        opened.close();
    }

    @Test
    void statementsSplitAtLineEndingSemicolons() {
        assertEquals(List.of("CREATE TABLE a (x INT)", "INSERT INTO a VALUES (1)"),
                Migrations.statements("-- a comment\nCREATE TABLE a (x INT);\n\nINSERT INTO a VALUES (1);\n"));
    }
}
