package io.cloudbridge.wireguard.internal.device;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.IntConsumer;

/**
 * Spreads one batch's packet crypto over the cores. The I/O thread that owns the batch calls
 * {@link #forEach}; it wakes the helper threads and then works through the batch itself, taking
 * packets one at a time from a shared cursor, as the helpers do once they run. When the cursor is
 * past the end the caller waits only for packets a helper has taken and not yet finished. The
 * caller then sends or delivers the batch in its original order, so a peer's packets keep their
 * order without a per-packet hand-off.
 *
 * <p>Taking work instead of being given a share matters on a busy machine: a helper whose core is
 * taken by something else simply finds nothing left, and the caller never waits for a thread that
 * is not running.
 *
 * <p>Each data-path thread has its own instance (the send and receive paths never wait behind each
 * other's batch).
 */
final class CryptoWorkers implements AutoCloseable {
    /** Batches smaller than this are not worth waking a helper for. */
    static final int MIN_PARALLEL = 8;
    /** The cursor's index once a batch is over: past any batch's end. */
    private static final long CLOSED = Integer.MAX_VALUE;

    private final Helper[] helpers;
    /** The batch's generation (high 32 bits) and the next packet to take (low 32 bits). */
    private final AtomicLong cursor = new AtomicLong();
    private final AtomicInteger finished = new AtomicInteger();
    private volatile IntConsumer task;
    /** The first failure of the running batch's tasks. */
    private volatile RuntimeException failed;
    private volatile int count;
    private volatile boolean closed;

    /** @param threads how many threads do crypto, the caller included (1: the caller alone) */
    CryptoWorkers(String name, int threads) {
        helpers = new Helper[Math.max(0, threads - 1)];
        for (int i = 0; i < helpers.length; i++) {
            helpers[i] = new Helper();
            Thread t = new Thread(helpers[i], name + "-" + (i + 1));
            t.setDaemon(true);
            helpers[i].thread = t;
            t.start();
        }
    }

    int threads() {
        return helpers.length + 1;
    }

    /**
     * Runs {@code task} for every index in {@code [0, count)}. A task should not throw; if one
     * does, every other index still runs, the batch still ends cleanly, and the first failure is
     * thrown here afterwards.
     */
    void forEach(int n, IntConsumer work) {
        if (helpers.length == 0 || n < MIN_PARALLEL || closed) {
            RuntimeException failure = null;
            for (int i = 0; i < n; i++) {
                try {
                    work.accept(i);
                } catch (RuntimeException e) {
                    failure = failure == null ? e : failure;
                }
            }
            if (failure != null) {
                throw failure;
            }
            return;
        }
        // 32 bits of generation; zero is skipped so that a wrapped generation never equals the
        // closed cursor's of the batch before.
        long generation = ((cursor.get() >>> 32) + 1) & 0xFFFF_FFFFL;
        if (generation == 0) {
            generation = 1;
        }
        failed = null;
        task = work;
        count = n;
        finished.set(0);
        cursor.set(generation << 32); // publishes the batch: helpers read task and count after this
        for (Helper h : helpers) {
            if (h.parked) {
                LockSupport.unpark(h.thread);
            }
        }
        int done = drain(generation, n, work);
        if (finished.addAndGet(done) != n) {
            // Only packets a running helper took are left: a few microseconds each.
            for (int spins = 0; finished.get() != n; spins++) {
                if (spins < 1000) {
                    Thread.onSpinWait();
                } else {
                    Thread.yield();
                }
            }
        }
        // Close the batch before the next one's task and count are written: a helper that saw this
        // generation late and reads the next batch's task must find nothing left to take here.
        cursor.set(generation << 32 | CLOSED);
        task = null;
        RuntimeException failure = failed;
        if (failure != null) {
            throw failure;
        }
    }

    /** Takes and runs packets of this generation until none are left; returns how many it ran. */
    private int drain(long generation, int n, IntConsumer work) {
        int done = 0;
        while (true) {
            long c = cursor.get();
            int index = (int) c;
            if ((c >>> 32) != generation || index >= n) {
                return done;
            }
            if (cursor.compareAndSet(c, c + 1)) {
                try {
                    work.accept(index);
                } catch (RuntimeException e) {
                    // Counted as done all the same: the batch must end, and a helper must live on.
                    if (failed == null) {
                        failed = e;
                    }
                }
                done++;
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        for (Helper h : helpers) {
            LockSupport.unpark(h.thread);
        }
    }

    private final class Helper implements Runnable {
        Thread thread;
        volatile boolean parked;
        private long seen;

        @Override
        public void run() {
            while (!closed) {
                long generation = cursor.get() >>> 32;
                if (generation == seen) {
                    parked = true;
                    if ((cursor.get() >>> 32) == seen && !closed) {
                        LockSupport.park(this);
                    }
                    parked = false;
                    continue;
                }
                seen = generation;
                IntConsumer work = task;
                int n = count;
                if (work != null) {
                    int done = drain(generation, n, work);
                    if (done > 0) {
                        finished.addAndGet(done);
                    }
                }
            }
        }
    }
}
