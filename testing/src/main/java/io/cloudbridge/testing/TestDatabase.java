package io.cloudbridge.testing;

import java.nio.file.Path;
import java.util.function.Supplier;
import javax.sql.DataSource;
import org.h2.jdbcx.JdbcConnectionPool;

/**
 * A database for a test, on either engine the relay runs on: an embedded H2 file (a single relay's
 * default) or a database of its own on the JVM's real PostgreSQL server ({@link PostgresServer},
 * shared by a fleet). Each {@link #open} is a new pool on the same data, as a relay restarted, or a
 * second relay, opens it; the pools are the ones the relay uses (H2's own, HikariCP).
 */
public final class TestDatabase {
    /** A pool on the database, closed by the test. */
    public record Pool(DataSource dataSource, Runnable closer) implements AutoCloseable {
        @Override
        public void close() {
            closer.run();
        }
    }

    private final String engine;
    private final Supplier<Pool> opener;

    private TestDatabase(String engine, Supplier<Pool> opener) {
        this.engine = engine;
        this.opener = opener;
    }

    /** An embedded H2 database in a file under {@code folder}. */
    public static TestDatabase h2(Path folder) {
        String url = "jdbc:h2:file:" + folder.resolve("relay").toAbsolutePath();
        return new TestDatabase("H2", () -> {
            JdbcConnectionPool pool = JdbcConnectionPool.create(url, "", "");
            return new Pool(pool, pool::dispose);
        });
    }

    /** A new database on the JVM's PostgreSQL server (skipped, or failed in CI, where PostgreSQL is not installed). */
    public static TestDatabase postgres() {
        PostgresServer.Database database = PostgresServer.shared().newDatabase();
        return new TestDatabase("PostgreSQL", () -> {
            var pool = database.pool();
            return new Pool(pool, pool::close);
        });
    }

    /** {@code "H2"} or {@code "PostgreSQL"}. */
    public String engine() {
        return engine;
    }

    /** A new pool on this database. */
    public Pool open() {
        return opener.get();
    }

    @Override
    public String toString() {
        return engine;
    }
}
