package io.cloudbridge.store.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.testing.PostgresServer;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The relay's pool on each engine, as {@link RelayDatabase} opens it from {@code database.url}. */
class DatabasePoolTest {
    @TempDir
    Path dir;

    @Test
    void anH2FileIsEmbeddedAndItsCommitsAreForcedOut() throws Exception {
        try (DatabasePool pool = DatabasePool.open("jdbc:h2:file:" + dir.resolve("relay").toAbsolutePath(), "", "", 4)) {
            assertTrue(pool.embeddedH2(), "an H2 file needs the group commit");
            assertEquals("H2", product(pool));
        }
        try (DatabasePool memory = DatabasePool.open("jdbc:h2:mem:pool", "", "", 4)) {
            assertFalse(memory.embeddedH2(), "nothing to force out of memory");
        }
    }

    @Test
    void aPostgresqlServerIsPooledAndFoundAmongTheHostsTheUrlNames() throws Exception {
        PostgresServer.Database database = PostgresServer.shared().newDatabase();
        try (DatabasePool pool = DatabasePool.open(database.url(), database.user(), database.password(), 4)) {
            assertFalse(pool.embeddedH2(), "a server's commits are durable");
            assertEquals("PostgreSQL", product(pool));
        }
        // A primary and its standby named in one URL: the first is down, the pool finds the other (as
        // after a failover, when the standby is promoted).
        String port = database.url().replaceAll(".*:(\\d+)/.*", "$1");
        String name = database.url().replaceAll(".*/", "");
        String twoHosts = "jdbc:postgresql://127.0.0.1:1,127.0.0.1:" + port + "/" + name + "?targetServerType=primary";
        try (DatabasePool pool = DatabasePool.open(twoHosts, database.user(), database.password(), 2)) {
            assertEquals("PostgreSQL", product(pool));
        }
    }

    @Test
    void aSecondRelayOnTheSameDatabaseIsRefusedUntilTheFirstHasGone() throws Exception {
        PostgresServer.Database database = PostgresServer.shared().newDatabase();
        DatabasePool first = DatabasePool.open(database.url(), database.user(), database.password(), 2);
        SQLException refused = assertThrows(SQLException.class,
                () -> DatabasePool.open(database.url(), database.user(), database.password(), 2, Duration.ZERO));
        assertTrue(refused.getMessage().contains("another relay uses this database"), refused.getMessage());
        first.close();
        try (DatabasePool second = DatabasePool.open(database.url(), database.user(), database.password(), 2, Duration.ofSeconds(5))) {
            assertEquals("PostgreSQL", product(second));
        }
    }

    @Test
    void aMalformedUrlIsRefusedWithoutRepeatingItsPassword() {
        SQLException refused = assertThrows(SQLException.class,
                () -> DatabasePool.open("jdbc:postgresql://db:notaport/relay?password=secret", "", "", 2));
        assertFalse(refused.getMessage().contains("secret"), refused.getMessage());
    }

    @Test
    void aWrongPasswordOrAnUnknownDatabaseFailsWithTheServersReason() throws Exception {
        PostgresServer.Database database = PostgresServer.shared().newDatabase();
        SQLException refused = assertThrows(SQLException.class,
                () -> DatabasePool.open(database.url(), database.user(), "not-the-password", 2));
        assertTrue(String.valueOf(refused.getMessage()).contains("password authentication failed"), refused.getMessage());
        SQLException unknown = assertThrows(SQLException.class,
                () -> DatabasePool.open(database.url() + "_missing", database.user(), database.password(), 2));
        assertTrue(String.valueOf(unknown.getMessage()).contains("does not exist"), unknown.getMessage());
    }

    @Test
    void aUrlOfAnotherDatabaseIsRefusedWithWhatIsSupported() {
        SQLException refused = assertThrows(SQLException.class,
                () -> DatabasePool.open("jdbc:mysql://db/relay?password=secret", "", "", 2));
        assertTrue(refused.getMessage().contains("jdbc:postgresql://"), refused.getMessage());
        assertFalse(refused.getMessage().contains("secret"), "the URL's password is not repeated: " + refused.getMessage());
    }

    private static String product(DatabasePool pool) throws SQLException {
        try (Connection c = pool.dataSource().getConnection(); ResultSet r = c.createStatement().executeQuery("SELECT 1")) {
            assertTrue(r.next());
            return c.getMetaData().getDatabaseProductName();
        }
    }
}
