package io.cloudbridge.boot.log;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * Keeps one kind of security event from flooding the log. Every refused request is worth a line,
 * until an attacker sends thousands a second: then the lines cost the relay disk and CPU, and
 * bury everything else. Lines of one kind (one message pattern) are written up to a burst and then
 * at a steady rate; the rest are counted, and the next line of that kind that is written says how
 * many were left out.
 */
final class FloodGuard {
    /** Loggers whose lines are guarded: the security log, which unauthenticated peers can drive. */
    static final String GUARDED_PREFIX = "io.cloudbridge.security";
    static final int BURST = 50;
    static final int PER_SECOND = 10;
    /** Kinds are message patterns, constants in the code: a bound only against a misuse. */
    private static final int MAX_KINDS = 1024;

    private final LongSupplier nanoTime;
    private final Map<String, Bucket> kinds = new ConcurrentHashMap<>();

    FloodGuard(LongSupplier nanoTime) {
        this.nanoTime = nanoTime;
    }

    static boolean guards(String logger) {
        return logger.startsWith(GUARDED_PREFIX);
    }

    /**
     * Whether a line of this kind is written now: -1 if not (it is counted), else how many lines of
     * the kind were left out since the last one written.
     */
    long admit(String pattern) {
        String kind = pattern == null ? "" : pattern;
        Bucket b = kinds.get(kind);
        if (b == null) {
            if (kinds.size() >= MAX_KINDS) {
                return 0;
            }
            b = kinds.computeIfAbsent(kind, k -> new Bucket(nanoTime.getAsLong()));
        }
        return b.admit(nanoTime.getAsLong());
    }

    private static final class Bucket {
        private double tokens = BURST;
        private long refilledAt;
        private long suppressed;

        Bucket(long now) {
            refilledAt = now;
        }

        synchronized long admit(long now) {
            tokens = Math.min(BURST, tokens + (now - refilledAt) / 1e9 * PER_SECOND);
            refilledAt = now;
            if (tokens < 1) {
                suppressed++;
                return -1;
            }
            tokens--;
            long left = suppressed;
            suppressed = 0;
            return left;
        }
    }
}
