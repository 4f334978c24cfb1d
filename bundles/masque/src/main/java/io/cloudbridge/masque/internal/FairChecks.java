package io.cloudbridge.masque.internal;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.RejectedExecutionException;

/**
 * The proxy's blocking checks (bearer tokens: a signature, the relay's database) on a few threads,
 * taken in turn by connection rather than in arrival order. A request's tenant is known only once
 * its token is checked, so this queue cannot be per tenant; per connection it can: one client
 * sending hundreds of requests at once on its connection waits behind itself, and another
 * client's request is checked after at most one check of each connection ahead of it, instead of
 * after all of them.
 *
 * <p>Bounded: {@code perConnection} checks waiting for one connection, {@code total} for all.
 */
final class FairChecks {
    private final int perConnection;
    private final int total;
    private final Map<Object, ArrayDeque<Runnable>> waiting = new HashMap<>();
    /** Connections with checks waiting, in turn: each takes one and goes to the back if it has more. */
    private final ArrayDeque<Object> turns = new ArrayDeque<>();
    private final Thread[] workers;
    private int queued;
    private boolean stopped;

    FairChecks(int threads, int perConnection, int total, String name) {
        this.perConnection = perConnection;
        this.total = total;
        this.workers = new Thread[threads];
        for (int i = 0; i < threads; i++) {
            workers[i] = new Thread(this::work, name);
            workers[i].setDaemon(true);
            workers[i].start();
        }
    }

    /**
     * Queues {@code check} for {@code connection}'s turn.
     *
     * @throws RejectedExecutionException that connection, or all, have as many checks waiting as allowed, or the proxy stopped
     */
    synchronized void execute(Object connection, Runnable check) {
        ArrayDeque<Runnable> mine = waiting.get(connection);
        if (stopped || queued >= total || (mine != null && mine.size() >= perConnection)) {
            throw new RejectedExecutionException(stopped ? "stopped" : "too many checks waiting");
        }
        if (mine == null) {
            mine = new ArrayDeque<>();
            waiting.put(connection, mine);
            turns.addLast(connection);
        }
        mine.addLast(check);
        queued++;
        notify();
    }

    private synchronized Runnable next() throws InterruptedException {
        while (turns.isEmpty() && !stopped) {
            wait();
        }
        if (stopped) {
            return null;
        }
        Object connection = turns.pollFirst();
        ArrayDeque<Runnable> mine = waiting.get(connection);
        Runnable check = mine.pollFirst();
        if (mine.isEmpty()) {
            waiting.remove(connection);
        } else {
            turns.addLast(connection);
        }
        queued--;
        return check;
    }

    private void work() {
        try {
            for (Runnable check; (check = next()) != null; ) {
                try {
                    check.run();
                } catch (RuntimeException e) {
                    org.slf4j.LoggerFactory.getLogger(FairChecks.class).warn("a MASQUE check failed: {}", e.toString(), e);
                }
            }
        } catch (InterruptedException stopping) {
            Thread.currentThread().interrupt();
        }
    }

    /** Drops what waits; checks running finish on their own. */
    void shutdownNow() {
        synchronized (this) {
            stopped = true;
            waiting.clear();
            turns.clear();
            queued = 0;
            notifyAll();
        }
        for (Thread t : workers) {
            t.interrupt();
        }
    }
}
