package io.cloudbridge.wireguard.internal.device;

import java.time.Instant;

/**
 * How many handshake messages one relayed sender may still have handled: a token bucket, refilled
 * lazily from the clock the caller passes. For handshakes that arrive over a relay, the sender is
 * the node the relay authenticated, so (unlike a UDP source address) it cannot be forged, and the
 * budget can hold always, not only under load: one node's flood is shed before it costs a
 * Diffie-Hellman, and it never spends another node's budget.
 */
final class HandshakeBudget {
    /** Sustained rate, as wireguard-go's rate limiter allows one source under load. */
    static final int PER_SECOND = 20;
    /** A burst: a node's few retries and rekeys, and peers starting at once after a restart. */
    static final int BURST = 5;

    private double tokens = BURST;
    private long lastNanos = Long.MIN_VALUE;

    /** Takes one message's worth if the budget has it now. */
    synchronized boolean take(Instant now) {
        long nanos = now.getEpochSecond() * 1_000_000_000L + now.getNano();
        if (lastNanos != Long.MIN_VALUE && nanos > lastNanos) {
            tokens = Math.min(BURST, tokens + (nanos - lastNanos) / 1e9 * PER_SECOND);
        }
        if (lastNanos == Long.MIN_VALUE || nanos > lastNanos) {
            lastNanos = nanos;
        }
        if (tokens < 1) {
            return false;
        }
        tokens -= 1;
        return true;
    }
}
