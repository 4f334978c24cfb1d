package io.cloudbridge.wireguard.internal.device;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.IntConsumer;

/**
 * Spreads one batch's packet crypto over the cores. The I/O thread that owns the batch calls
 * {@link #forEach}: the batch is cut into contiguous parts, helper threads take all but the first,
 * the caller does the first, and the call returns when every part is done. The caller then sends
 * or delivers the batch in its original order, so a peer's packets keep their order without any
 * per-packet hand-off: the only synchronisation is one wake-up per helper per batch.
 *
 * <p>Each data-path thread has its own instance (helpers are not shared between the send and
 * receive paths, so neither waits behind the other's batch).
 */
final class CryptoWorkers implements AutoCloseable {
    /** Below this many packets per part, waking a helper costs more than it saves. */
    static final int MIN_PART = 8;

    private final Helper[] helpers;
    private final AtomicInteger unfinished = new AtomicInteger();
    private volatile Thread caller;
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

    /** Runs {@code task} for every index in {@code [0, count)}; the task must not throw. */
    void forEach(int count, IntConsumer task) {
        int parts = Math.min(helpers.length + 1, count / MIN_PART);
        if (parts <= 1 || closed) {
            for (int i = 0; i < count; i++) {
                task.accept(i);
            }
            return;
        }
        caller = Thread.currentThread();
        unfinished.set(parts - 1);
        int per = count / parts;
        for (int p = 1; p < parts; p++) {
            helpers[p - 1].assign(task, p * per, p == parts - 1 ? count : (p + 1) * per);
        }
        for (int i = 0; i < per; i++) {
            task.accept(i);
        }
        while (unfinished.get() != 0) {
            LockSupport.park(this);
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
        private volatile IntConsumer task;
        private int from;
        private int to;

        void assign(IntConsumer work, int start, int end) {
            from = start;
            to = end;
            task = work; // the volatile write publishes the range
            LockSupport.unpark(thread);
        }

        @Override
        public void run() {
            while (true) {
                IntConsumer work = task;
                if (work == null) {
                    if (closed) {
                        return;
                    }
                    LockSupport.park(this);
                    continue;
                }
                for (int i = from; i < to; i++) {
                    work.accept(i);
                }
                task = null;
                if (unfinished.decrementAndGet() == 0) {
                    LockSupport.unpark(caller);
                }
            }
        }
    }
}
