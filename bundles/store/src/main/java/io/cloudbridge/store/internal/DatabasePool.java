package io.cloudbridge.store.internal;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import javax.sql.DataSource;
import org.h2.jdbcx.JdbcConnectionPool;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * The relay's pool of connections, by the JDBC URL's database: H2's own pool for an H2 URL (the
 * embedded default), HikariCP for a PostgreSQL server. The pool is given the driver's data source
 * itself, not a driver class name to look up: this bundle's class loader sees the driver's
 * packages through its imports, which a name handed to a library's {@code Class.forName} would not.
 */
final class DatabasePool implements AutoCloseable {
    /** How long a caller waits for a PostgreSQL connection before the server is called unreachable. */
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
        return open(url, user, password, maxConnections, Duration.ofSeconds(10));
    }

    /** @param lockWait how long to wait for a relay that held the database to be gone (killed a moment ago, say) */
    static DatabasePool open(String url, String user, String password, int maxConnections, Duration lockWait) throws SQLException {
        if (url.startsWith("jdbc:h2:")) {
            JdbcConnectionPool pool = JdbcConnectionPool.create(url, user, password);
            pool.setMaxConnections(maxConnections);
            return new DatabasePool(pool, pool::dispose, embeddedH2File(url));
        }
        if (url.startsWith("jdbc:postgresql:")) {
            PGSimpleDataSource driver = new PGSimpleDataSource();
            // The URL may name several servers (a primary and its standbys) and the server type it
            // wants (targetServerType=primary): after a failover the pool's new connections find
            // whichever is the primary now.
            try {
                driver.setURL(url);
            } catch (IllegalArgumentException e) { // (its message repeats the URL, password and all)
                throw new SQLException("database.url is not a PostgreSQL JDBC URL the driver takes: " + RelayDatabase.redact(url));
            }
            // A primary cut off (not crashed) would hold a call forever: keepalives, and no statement
            // of the relay's takes half a minute.
            driver.setTcpKeepAlive(true);
            driver.setSocketTimeout(30);
            driver.setUser(user);
            driver.setPassword(password);
            // One connection made here, by the driver itself: a wrong password or an unknown
            // database fails now with the server's own words, not as a pool's time-out 10 s later.
            driver.setLoginTimeout((int) (CONNECTION_TIMEOUT_MILLIS / 1000));
            Connection lock = oneRelayOnly(driver.getConnection(), lockWait);
            HikariConfig config = new HikariConfig();
            config.setPoolName("relay-database");
            config.setDataSource(driver);
            config.setMaximumPoolSize(maxConnections);
            config.setMinimumIdle(Math.min(2, maxConnections));
            config.setConnectionTimeout(CONNECTION_TIMEOUT_MILLIS);
            // (The connection above told whether the server is there; the pool fills in the background.)
            config.setInitializationFailTimeout(-1);
            HikariDataSource pool = new HikariDataSource(config);
            return new DatabasePool(pool, () -> {
                pool.close();
                lock.close();
            }, false);
        }
        throw new SQLException("database.url names a database this relay has no driver for: " + RelayDatabase.redact(url)
                + " (jdbc:h2:... or jdbc:postgresql://...)");
    }

    /** The advisory lock a relay holds on its PostgreSQL database ("CloudBrg"). */
    static final long ONE_RELAY_LOCK = 0x436c6f7564427267L;

    /**
     * Holds the database's advisory lock on {@code connection} for as long as the pool is open, or
     * refuses: until relays hear each other's changes and share their signing keys' rotation, two
     * relays on one database would each rotate, and delete, the other's keys (as H2's file lock
     * refuses a second relay on the same file). The server lets go of the lock when the
     * connection ends, also when the relay holding it is killed.
     */
    private static Connection oneRelayOnly(Connection connection, Duration wait) throws SQLException {
        try {
            // The server waits for the lock, up to lock_timeout (0 would be for ever), then refuses.
            try (Statement limit = connection.createStatement()) {
                limit.execute("SET lock_timeout = " + Math.max(1, wait.toMillis()));
            }
            try (PreparedStatement take = connection.prepareStatement("SELECT pg_advisory_lock(?)")) {
                take.setLong(1, ONE_RELAY_LOCK);
                take.execute();
            } catch (SQLException e) {
                if ("55P03".equals(e.getSQLState())) { // lock_not_available
                    throw new SQLException("another relay uses this database: one relay per database until relays form a fleet");
                }
                throw e;
            }
            try (Statement reset = connection.createStatement()) {
                reset.execute("SET lock_timeout = 0");
            }
            return connection;
        } catch (SQLException e) {
            connection.close();
            throw e;
        }
    }

    /** Whether {@code url} is an H2 database in a file of this process (not a server, not memory). */
    static boolean embeddedH2File(String url) {
        return url.startsWith("jdbc:h2:") && !url.startsWith("jdbc:h2:tcp:") && !url.startsWith("jdbc:h2:ssl:")
                && !url.startsWith("jdbc:h2:mem:");
    }

    /** Whether {@code url} is a database of this relay alone: an H2 file or H2 in memory. */
    static boolean ownDatabase(String url) {
        return embeddedH2File(url) || url.startsWith("jdbc:h2:mem:");
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
