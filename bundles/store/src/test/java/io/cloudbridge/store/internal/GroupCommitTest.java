package io.cloudbridge.store.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Logger;
import javax.sql.DataSource;
import org.h2.jdbcx.JdbcConnectionPool;
import org.junit.jupiter.api.Test;

/** Every caller of sync returns after a checkpoint; callers waiting together share checkpoints. */
class GroupCommitTest {
    @Test
    void concurrentCallersShareCheckpoints() throws Exception {
        JdbcConnectionPool pool = JdbcConnectionPool.create("jdbc:h2:mem:group;DB_CLOSE_DELAY=-1", "", "");
        AtomicInteger checkpoints = new AtomicInteger();
        DataSource counting = new DataSource() {
            public Connection getConnection() throws SQLException {
                checkpoints.incrementAndGet(); // GroupCommit takes one connection per checkpoint
                return pool.getConnection();
            }

            public Connection getConnection(String u, String p) throws SQLException {
                return getConnection();
            }

            public PrintWriter getLogWriter() {
                return null;
            }

            public void setLogWriter(PrintWriter out) {
            }

            public void setLoginTimeout(int seconds) {
            }

            public int getLoginTimeout() {
                return 0;
            }

            public Logger getParentLogger() throws SQLFeatureNotSupportedException {
                throw new SQLFeatureNotSupportedException();
            }

            public <T> T unwrap(Class<T> iface) throws SQLException {
                throw new SQLException("not a wrapper");
            }

            public boolean isWrapperFor(Class<?> iface) {
                return false;
            }
        };
        GroupCommit group = new GroupCommit(counting);
        int callers = 400;
        ExecutorService threads = Executors.newFixedThreadPool(16);
        CountDownLatch start = new CountDownLatch(1);
        List<Future<?>> done = new ArrayList<>();
        for (int i = 0; i < callers; i++) {
            done.add(threads.submit(() -> {
                start.await();
                group.sync();
                return null;
            }));
        }
        start.countDown();
        for (Future<?> f : done) {
            f.get();
        }
        threads.shutdown();
        assertTrue(checkpoints.get() >= 1 && checkpoints.get() < callers, "shared: " + checkpoints.get() + " checkpoints for " + callers);
        // Alone, a caller gets a checkpoint of its own.
        int before = checkpoints.get();
        group.sync();
        assertEquals(before + 1, checkpoints.get());
        pool.dispose();
    }
}
