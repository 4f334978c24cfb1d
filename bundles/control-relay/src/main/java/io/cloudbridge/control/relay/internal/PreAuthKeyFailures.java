package io.cloudbridge.control.relay.internal;

import java.time.Instant;
import java.util.HashMap;
import java.util.Map;

/**
 * Failed pre-auth keys by source address, so that guessing keys costs: registration asks before
 * it looks a key up, and reports each key it refused.
 */
final class PreAuthKeyFailures {
    private final Map<String, java.util.ArrayDeque<Long>> keyFailures = new HashMap<>();
    private final RelayConfig config;

    PreAuthKeyFailures(RelayConfig config) {
        this.config = config;
    }

    /**
     * Guessing keys costs: at most {@code preAuthFailuresPerMinute} failures per source address in
     * any 60 seconds (a sliding window: a burst across a minute's turn gets no second budget). The
     * table is bounded; sources silent for a minute leave it first.
     */
    synchronized boolean overFailureBudget(String remote, Instant now, boolean failed) {
        long cutoff = now.getEpochSecond() - 60;
        java.util.ArrayDeque<Long> times = keyFailures.get(host(remote));
        if (times != null) {
            while (!times.isEmpty() && times.peekFirst() <= cutoff) {
                times.pollFirst();
            }
        }
        if (failed) {
            if (times == null) {
                if (keyFailures.size() >= 10_000) {
                    keyFailures.values().removeIf(t -> t.isEmpty() || t.peekLast() <= cutoff);
                }
                if (keyFailures.size() >= 10_000) {
                    return false; // full of live sources: this one is refused by its key alone
                }
                times = new java.util.ArrayDeque<>();
                keyFailures.put(host(remote), times);
            }
            times.addLast(now.getEpochSecond());
            while (times.size() > config.preAuthFailuresPerMinute()) {
                times.pollFirst();
            }
        }
        return times != null && times.size() >= config.preAuthFailuresPerMinute();
    }

    private static String host(String remote) {
        int colon = remote.lastIndexOf(':');
        return colon > 0 ? remote.substring(0, colon) : remote;
    }
}
