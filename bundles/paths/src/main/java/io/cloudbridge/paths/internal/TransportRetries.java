package io.cloudbridge.paths.internal;

import io.cloudbridge.api.transport.RelayBusyException;
import io.cloudbridge.api.transport.RelayTransport;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * The retry bookkeeping per transport: when each may be tried again after a failed first
 * connection, a backoff that grows with each failure up to {@code paths.maxRetryMillis}, and the
 * relay's own "come back in N seconds" honoured a few times in a row without growing it. Used on
 * the path layer's decisions thread only, so it needs no locks; times are {@link System#nanoTime()}.
 */
final class TransportRetries {
    /** How many busy refusals in a row are tried again after just the relay's asked wait. */
    static final int BUSY_REFUSALS_HONOURED = 3;

    /** The path layer's configuration as it is now: it changes with {@code @Modified}. */
    private final Supplier<PathsConfig> config;
    /** When each transport may be tried again after a failed attempt. */
    private final Map<RelayTransport, Long> retryAt = new HashMap<>();
    /** Busy refusals in a row of each transport's first connections. */
    private final Map<RelayTransport, Integer> busyRefusals = new HashMap<>();
    private final Map<RelayTransport, Integer> failures = new HashMap<>();

    TransportRetries(Supplier<PathsConfig> config) {
        this.config = config;
    }

    /**
     * A first connection over {@code t} failed.
     *
     * @return the relay's wait in ms when it is honoured (the caller decides again once it is over),
     *     or -1 when the transport's own backoff grew instead
     */
    long failed(RelayTransport t, Throwable failure, long nowNanos) {
        RelayBusyException busy = busy(failure);
        if (busy != null && busyRefusals.merge(t, 1, Integer::sum) <= BUSY_REFUSALS_HONOURED) {
            // The relay asked to be tried again then (a plugin of its restarting, its control
            // plane busy): nothing against the transport, so its backoff does not grow.
            PathsConfig c = config.get();
            long wait = Math.max(c.minRetryMillis(), Math.min(c.maxRetryMillis(), busy.retryAfter().toMillis()));
            retryAt.put(t, nowNanos + TimeUnit.MILLISECONDS.toNanos(wait));
            return wait;
        }
        // Failed, or still busy after a few tries (its database down, say): the backoff
        // grows, so that the relay's nodes do not keep a failing relay busy all along.
        backOff(t, nowNanos);
        return -1;
    }

    private static RelayBusyException busy(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t instanceof RelayBusyException b) {
                return b;
            }
        }
        return null;
    }

    /** Sets {@code t} aside for its backoff, one failure longer than the last; returns the wait in ms. */
    long backOff(RelayTransport t, long nowNanos) {
        PathsConfig c = config.get();
        int n = failures.merge(t, 1, Integer::sum);
        long delay = Math.min(c.maxRetryMillis(), c.minRetryMillis() << Math.min(n - 1, 16));
        retryAt.put(t, nowNanos + TimeUnit.MILLISECONDS.toNanos(delay));
        return delay;
    }

    /** Whether {@code t} failed recently and waits out its backoff or the relay's wait at {@code nowNanos}. */
    boolean setAside(RelayTransport t, long nowNanos) {
        Long at = retryAt.get(t);
        return at != null && nowNanos < at;
    }

    /** A session over {@code t} connected: whatever went wrong before counts no more. */
    void connected(RelayTransport t) {
        failures.remove(t);
        busyRefusals.remove(t);
        retryAt.remove(t);
    }

    /** Everything forgotten: the node's way out changed, so past failures say nothing of the new one. */
    void clear() {
        retryAt.clear();
        busyRefusals.clear();
        failures.clear();
    }
}
