package io.cloudbridge.wireguard.internal.device;

import java.time.Instant;

/**
 * How many relayed handshake messages may still be handled: a token bucket, refilled lazily from
 * the clock the caller passes. Each relayed sender has one: the sender is the node the relay
 * authenticated, so (unlike a UDP source address) it cannot be forged, and the budget can hold
 * always, not only under load: one node's flood is shed before it costs a Diffie-Hellman, and it
 * never spends another node's budget. The device has one for all its senders together, so that a
 * tenant's many nodes cannot make its gateway's thread take a core of the relay either.
 */
final class HandshakeBudget {
    /** A sender's sustained rate, as wireguard-go's rate limiter allows one source under load. */
    static final int PER_SECOND = 20;
    /** A sender's burst: a node's few retries and rekeys, and peers starting at once after a restart. */
    static final int BURST = 5;
    /**
     * All senders of one device together: at up to four X25519 a message (about 250 us each on
     * the JDK here), a fifth of a core at most; a tenant whose nodes all rekey at once waits a few
     * seconds, as WireGuard's retries allow.
     */
    static final int DEVICE_PER_SECOND = 200;
    static final int DEVICE_BURST = 50;

    private final int perSecond;
    private final int burst;
    private double tokens;
    private long lastNanos = Long.MIN_VALUE;

    /** A sender's budget. */
    HandshakeBudget() {
        this(PER_SECOND, BURST);
    }

    HandshakeBudget(int perSecond, int burst) {
        this.perSecond = perSecond;
        this.burst = burst;
        this.tokens = burst;
    }

    /** Takes one message's worth if the budget has it now. */
    synchronized boolean take(Instant now) {
        long nanos = now.getEpochSecond() * 1_000_000_000L + now.getNano();
        if (lastNanos != Long.MIN_VALUE && nanos > lastNanos) {
            tokens = Math.min(burst, tokens + (nanos - lastNanos) / 1e9 * perSecond);
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
