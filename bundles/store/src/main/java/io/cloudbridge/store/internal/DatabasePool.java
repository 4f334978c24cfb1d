package io.cloudbridge.store.internal;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.sql.SQLException;
import javax.sql.DataSource;
import org.h2.jdbcx.JdbcConnectionPool;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * The relay's pool of connections, by the JDBC URL's database: H2's own pool for an H2 URL (the
 * embedded default), HikariCP for a PostgreSQL server (which a fleet of relays shares). The
 * driver's data source is handed to the pool directly, not found through {@code DriverManager}:
 * in a framework the driver is a bundle that {@code DriverManager}'s class loader cannot see.
 */
final class DatabasePool implements AutoCloseable {
    /** How long a caller waits for a connection before the database is called unreachable. */
    static final long CONNECTION_TIMEOUT_MILLIS = 10_000;

    private final DataSource dataSource;
    private final AutoCloseable closer;
    private final boolean embeddedH2;

    private DatabasePool(DataSource dataSource, AutoCloseable closer, boolean embeddedH2) {
        this.dataSource = dataSource;
        this.closer = closer;
        this.embeddedH2 = embeddedH2;
    }

    /**
     * Opens a pool of at most {@code maxConnections}.
     *
     * @throws SQLException for a URL of a database this relay has no driver for, or a server that
     *         refuses the first connection (its reason)
     */
    static DatabasePool open(String url, String user, String password, int maxConnections) throws SQLException {
        if (url.startsWith("jdbc:h2:")) {
            JdbcConnectionPool pool = JdbcConnectionPool.create(url, user, password);
            pool.setMaxConnections(maxConnections);
            pool.setLoginTimeout((int) (CONNECTION_TIMEOUT_MILLIS / 1000));
            boolean embedded = !url.startsWith("jdbc:h2:tcp:") && !url.startsWith("jdbc:h2:ssl:") && !url.startsWith("jdbc:h2:mem:");
            return new DatabasePool(pool, pool::dispose, embedded);
        }
        if (url.startsWith("jdbc:postgresql:")) {
            PGSimpleDataSource driver = new PGSimpleDataSource();
            // The URL may name several servers (a primary and its standbys) and the server type it
            // wants (targetServerType=primary): after a failover the pool's new connections find
            // whichever is the primary now.
            driver.setURL(url);
            driver.setUser(user);
            driver.setPassword(password);
            // One connection made here, by the driver itself: a wrong password or an unknown
            // database fails now with the server's own words, not as a pool's time-out 10 s later.
            driver.setLoginTimeout((int) (CONNECTION_TIMEOUT_MILLIS / 1000));
            driver.getConnection().close();
            HikariConfig config = new HikariConfig();
            config.setPoolName("relay-database");
            config.setDataSource(driver);
            config.setMaximumPoolSize(maxConnections);
            config.setMinimumIdle(Math.min(2, maxConnections));
            config.setConnectionTimeout(CONNECTION_TIMEOUT_MILLIS);
            // (The connection above told whether the server is there; the pool fills in the background.)
            config.setInitializationFailTimeout(-1);
            HikariDataSource pool = new HikariDataSource(config);
            return new DatabasePool(pool, pool, false);
        }
        throw new SQLException("database.url names a database this relay has no driver for: " + RelayDatabase.redact(url)
                + " (jdbc:h2:... or jdbc:postgresql://...)");
    }

    DataSource dataSource() {
        return dataSource;
    }

    /** Whether commits need {@link GroupCommit} to reach the disk (an embedded H2 file); a server's commits are durable. */
    boolean embeddedH2() {
        return embeddedH2;
    }

    @Override
    public void close() {
        try {
            closer.close();
        } catch (Exception e) {
            // closing: the connections go with it
        }
    }
}
