package io.cloudbridge.control.relay.internal;

import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.Optional;

/**
 * Budgets of control calls by caller (a node, a tenant, a pre-auth key): a token bucket per key
 * that holds a minute's worth and refills continuously, so a burst of a minute's budget goes
 * through at once (a tenant's nodes all signing in after a relay restart) and a loop is held to
 * the rate. The data plane's {@code TokenBucket} counts packets and bytes per second of one
 * session and is private to its bundle; these are keyed by callers the control plane names, in
 * one bounded table, and say when to come back.
 *
 * <p>Time is the caller's clock (the relay's), read lazily: an idle bucket costs nothing. A full
 * bucket carries no state, so when the table reaches its bound those go first; if it is still full
 * (as many callers mid-budget as the bound), a new key goes unlimited rather than evicting one that
 * is being held, and the coarser budgets it is charged with (its tenant, its pre-auth key) still
 * apply.
 */
final class CallBudgets {
    static final int MAX_KEYS = 100_000;

    /** One budget a call is charged to: its key, its rate, and how a refusal names it. */
    record Charge(String key, int perMinute, String what) {
    }

    /** A budget the call would overdraw, and when it has a call's worth again. */
    record Overdrawn(String what, Duration retryAfter) {
    }

    private static final class Bucket {
        final double capacity;
        double tokens;
        Instant last;

        Bucket(double capacity, Instant now) {
            this.capacity = capacity;
            this.tokens = capacity;
            this.last = now;
        }

        void refill(double perMinute, Instant now) {
            long nanos = Duration.between(last, now).toNanos();
            if (nanos > 0) {
                tokens = Math.min(capacity, tokens + perMinute * nanos / 60e9);
                last = now;
            }
        }
    }

    private final Map<String, Bucket> buckets = new HashMap<>();

    /**
     * Takes one call from every budget, or from none when any of them is empty (a call refused by
     * its tenant's budget does not use its node's).
     */
    synchronized Optional<Overdrawn> take(Instant now, Charge... charges) {
        Bucket[] found = new Bucket[charges.length];
        for (int i = 0; i < charges.length; i++) {
            Charge c = charges[i];
            Bucket b = bucket(c, now);
            if (b == null) {
                continue; // the table is full of callers mid-budget: this key goes uncounted
            }
            b.refill(c.perMinute(), now);
            if (b.tokens < 1) {
                double secondsToOne = (1 - b.tokens) * 60 / c.perMinute();
                return Optional.of(new Overdrawn(c.what(), Duration.ofMillis(Math.max(1, (long) Math.ceil(secondsToOne * 1000)))));
            }
            found[i] = b;
        }
        for (Bucket b : found) {
            if (b != null) {
                b.tokens -= 1;
            }
        }
        return Optional.empty();
    }

    private Bucket bucket(Charge c, Instant now) {
        Bucket b = buckets.get(c.key());
        if (b != null) {
            return b;
        }
        if (buckets.size() >= MAX_KEYS) {
            prune(now);
            if (buckets.size() >= MAX_KEYS) {
                return null;
            }
        }
        b = new Bucket(c.perMinute(), now);
        buckets.put(c.key(), b);
        return b;
    }

    /** Drops the buckets that have refilled: they would start out full anyway. */
    private void prune(Instant now) {
        for (Iterator<Bucket> it = buckets.values().iterator(); it.hasNext(); ) {
            Bucket b = it.next();
            // A bucket holds a minute's worth and refills it in a minute: silent that long, it is full.
            if (Duration.between(b.last, now).toSeconds() >= 60 || b.tokens >= b.capacity) {
                it.remove();
            }
        }
    }

    synchronized int size() {
        return buckets.size();
    }
}
