package io.cloudbridge.boot.log;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * Keeps one kind of security event from flooding the log. Every refused request is worth a line,
 * until an attacker sends thousands a second: then the lines cost the relay disk and CPU, and
 * bury everything else. Lines of one kind are written up to a burst and then at a steady rate; the
 * rest are counted and reported in one line: with the next line of that kind that is written, or,
 * once the kind has gone quiet for a second, with the next line of any guarded kind.
 *
 * <p>A kind is a message pattern with its first argument (the reason, in the relay's refusals),
 * so that one peer's flood of one refusal does not hide the others. The caller's text can reach
 * that argument, so kinds are bounded: past {@link #MAX_KINDS}, new ones share their pattern's.
 */
final class FloodGuard {
    /** Loggers whose lines are guarded: the security log, which unauthenticated peers can drive. */
    static final String GUARDED_PREFIX = "io.cloudbridge.security";
    static final int BURST = 50;
    static final int PER_SECOND = 10;
    static final int MAX_KINDS = 1024;
    /** Longest first argument that tells kinds apart; the rest of it does not. */
    static final int ARGUMENT_CHARS = 80;
    private static final long QUIET_NANOS = 1_000_000_000L;

    private final LongSupplier nanoTime;
    private final Map<String, Bucket> kinds = new ConcurrentHashMap<>();

    FloodGuard(LongSupplier nanoTime) {
        this.nanoTime = nanoTime;
    }

    static boolean guards(String logger) {
        return logger.startsWith(GUARDED_PREFIX);
    }

    /**
     * Whether a line is written now: -1 if not (it is counted), else how many lines of its kind were
     * left out since the last one written.
     */
    long admit(String pattern, Object[] args) {
        String p = pattern == null ? "" : pattern;
        String first = args != null && args.length > 0 && args[0] != null ? String.valueOf(args[0]) : "";
        if (first.length() > ARGUMENT_CHARS) {
            first = first.substring(0, ARGUMENT_CHARS);
        }
        String kind = p + '\u0000' + first;
        Bucket b = kinds.get(kind);
        if (b == null) {
            if (kinds.size() >= MAX_KINDS) {
                kind = p + '\u0000';
                first = "";
            }
            String shown = first.isEmpty() ? p : p + " [" + first + "]";
            b = kinds.computeIfAbsent(kind, k -> new Bucket(shown, nanoTime.getAsLong()));
        }
        return b.admit(nanoTime.getAsLong());
    }

    /**
     * Lines for the kinds that left lines out and have been quiet for a second since: each says how
     * many; their counts start again.
     */
    List<String> quietReports() {
        long now = nanoTime.getAsLong();
        List<String> out = new ArrayList<>();
        for (Bucket b : kinds.values()) {
            long left = b.takeIfQuiet(now);
            if (left > 0) {
                out.add(report(left, b.shown));
            }
        }
        return out;
    }

    static String report(long leftOut, String kind) {
        return leftOut + " more lines like \"" + kind + "\" were left out (at most " + PER_SECOND + " a second after a burst of "
                + BURST + ")";
    }

    private static final class Bucket {
        final String shown;
        private double tokens = BURST;
        private long refilledAt;
        private long suppressed;
        private long lastSuppressedAt;

        Bucket(String shown, long now) {
            this.shown = shown;
            refilledAt = now;
        }

        synchronized long admit(long now) {
            tokens = Math.min(BURST, tokens + (now - refilledAt) / 1e9 * PER_SECOND);
            refilledAt = now;
            if (tokens < 1) {
                suppressed++;
                lastSuppressedAt = now;
                return -1;
            }
            tokens--;
            long left = suppressed;
            suppressed = 0;
            return left;
        }

        synchronized long takeIfQuiet(long now) {
            if (suppressed == 0 || now - lastSuppressedAt < QUIET_NANOS) {
                return 0;
            }
            long left = suppressed;
            suppressed = 0;
            return left;
        }
    }
}
