package io.cloudbridge.relay.internal;

import java.util.concurrent.atomic.AtomicLong;

/**
 * One party's current interval in the fair share (a tenant, or a node of a tenant): what it was
 * let through and what was refused (together, its demand), against its allowance for the
 * interval. The forwarding path only reads and adds to atomic counters (no lock, no allocation);
 * the rebalance ends the interval and sets the next allowance.
 */
final class ShareMeter {
    /** No allowance: the party is not limited. */
    static final long UNLIMITED = Long.MAX_VALUE;

    private final AtomicLong usedPackets = new AtomicLong();
    private final AtomicLong usedBytes = new AtomicLong();
    private final AtomicLong refusedPackets = new AtomicLong();
    private final AtomicLong refusedBytes = new AtomicLong();
    private volatile long allowedPackets;
    private volatile long allowedBytes;
    /** The demand of the interval that ended last, per second; the rebalance's own. */
    private volatile double demandPackets;
    private volatile double demandBytes;

    ShareMeter(long allowedPackets, long allowedBytes) {
        allow(allowedPackets, allowedBytes);
    }

    /**
     * Whether another packet fits this interval's allowance. A packet is let through while any
     * allowance is left, so a party goes over by at most one packet an interval, and an
     * allowance smaller than a packet does not starve its party.
     */
    boolean allows() {
        return usedPackets.get() < allowedPackets && usedBytes.get() < allowedBytes;
    }

    void use(int size) {
        usedPackets.incrementAndGet();
        usedBytes.addAndGet(size);
    }

    void refuse(int size) {
        refusedPackets.incrementAndGet();
        refusedBytes.addAndGet(size);
    }

    /** Ends the interval: its demand (let through and refused) becomes a rate; the counts start again. */
    void endInterval(double seconds) {
        demandPackets = (usedPackets.getAndSet(0) + refusedPackets.getAndSet(0)) / seconds;
        demandBytes = (usedBytes.getAndSet(0) + refusedBytes.getAndSet(0)) / seconds;
    }

    void allow(long packets, long bytes) {
        allowedPackets = packets;
        allowedBytes = bytes;
    }

    double demandPackets() {
        return demandPackets;
    }

    double demandBytes() {
        return demandBytes;
    }

    long allowedPackets() {
        return allowedPackets;
    }

    long allowedBytes() {
        return allowedBytes;
    }
}
