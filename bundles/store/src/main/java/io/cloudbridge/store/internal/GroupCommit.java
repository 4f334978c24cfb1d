package io.cloudbridge.store.internal;

import io.cloudbridge.store.Durability;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import javax.sql.DataSource;

/**
 * Group commit for the embedded H2 database: commits stay in memory (H2's own writer flushes them
 * within half a second), and {@link #sync} forces them out with a CHECKPOINT, one for all the
 * callers waiting at that moment. A caller returns only after a checkpoint that began after its
 * call: everything it committed before calling is in the file, so it survives the process being
 * killed (the operating system has the written pages).
 *
 * <p>Why not H2's {@code WRITE_DELAY=0}: it writes the changed B-tree pages at every commit, three
 * per registration; under load most of the relay's time went there.
 */
final class GroupCommit implements Durability {
    private final DataSource database;
    private long requested;
    private long completed;
    private boolean flushing;

    GroupCommit(DataSource database) {
        this.database = database;
    }

    @Override
    public void sync() throws SQLException {
        long mine;
        synchronized (this) {
            mine = ++requested;
        }
        while (true) {
            long target;
            synchronized (this) {
                while (flushing && completed < mine) {
                    try {
                        wait();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new SQLException("interrupted while waiting for the database's write", e);
                    }
                }
                if (completed >= mine) {
                    return; // a checkpoint that began after this call has finished
                }
                flushing = true;
                target = requested; // every call numbered up to here committed before this checkpoint begins
            }
            boolean done = false;
            try (Connection c = database.getConnection(); Statement s = c.createStatement()) {
                s.execute("CHECKPOINT");
                done = true;
            } finally {
                synchronized (this) {
                    flushing = false;
                    if (done) {
                        completed = Math.max(completed, target);
                    }
                    notifyAll();
                }
            }
        }
    }

    /** For databases whose commits are durable by themselves (a server such as PostgreSQL). */
    static final Durability COMMITS_ARE_DURABLE = () -> { };
}
