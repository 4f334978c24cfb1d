package io.cloudbridge.relay.internal;

import io.cloudbridge.api.net.NodeKey;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BiPredicate;

/**
 * The switch's rates, kept per tenant and per node identity (tenant and key), not per session:
 * a node that reconnects finds its rate as it left it, so a new session buys no new burst.
 *
 * <p>Two kinds of limit. A node's own rate (section {@code forwarding}, node*) is a token bucket
 * with a second's burst. Above it, the relay's capacity is divided among the tenants that send,
 * and each tenant's part (at most its own configured rate) among its nodes, max-min fairly by
 * what each tried to send over the last interval ({@link MaxMinShare}), every {@link #INTERVAL_NANOS}.
 * The division runs on the forwarding thread whose packet finds the interval over (so it costs
 * nothing while the relay is idle, and no thread of its own); every other packet pays a clock
 * comparison and a few atomic counters ({@link ShareMeter}).
 *
 * <p>Nothing is queued, so a share is enforced by dropping (counted as rate limited). A tenant is
 * held to twice its part within one interval, as a hard bound: its nodes' own parts add up to
 * its part in steady state, but a node that sent little may grow to an equal share at once, and
 * a bound of exactly the tenant's part would let a node that floods early in the interval take
 * that room from it. Twice the part, for one interval, also bounds a tenant whose many idle nodes
 * all start at once (each is owed a share before the division has seen it).
 */
final class FairShare {
    /** How often the shares are divided again: short enough to follow a load, long enough to be cheap. */
    static final long INTERVAL_NANOS = TimeUnit.MILLISECONDS.toNanos(100);
    /**
     * How long a node identity's rate outlives its last session, once idle: beyond a reconnect's
     * backoff, and the node's bucket is full again after a second anyway.
     */
    static final long RETAIN_NANOS = TimeUnit.SECONDS.toNanos(10);
    /** A tenant's hard bound within an interval, in parts (see the class comment). */
    private static final int TENANT_BOUND = 2;

    private final Map<String, Tenant> tenants = new ConcurrentHashMap<>();
    private final ForwardingConfig config;
    private final double capacityPackets;
    private final double capacityBytes;
    private final double tenantPackets;
    private final double tenantBytes;
    /** Whether a node's rate is still held by a session; its state is kept while it is. */
    private final BiPredicate<String, NodeKey> attached;
    private final ReentrantLock rebalancing = new ReentrantLock();
    private volatile long nextRebalance;
    private long lastRebalance;
    /** A tenant's part, per interval, until the division has seen it send. */
    private volatile long newcomerPackets;
    private volatile long newcomerBytes;

    FairShare(ForwardingConfig config, BiPredicate<String, NodeKey> attached, long nowNanos) {
        this.config = config;
        this.attached = attached;
        this.capacityPackets = rate(config.capacityPacketsPerSecond());
        this.capacityBytes = rate(config.capacityBytesPerSecond());
        this.tenantPackets = rate(config.tenantPacketsPerSecond());
        this.tenantBytes = rate(config.tenantBytesPerSecond());
        this.lastRebalance = nowNanos;
        this.nextRebalance = nowNanos + INTERVAL_NANOS;
        this.newcomerPackets = perInterval(Math.min(capacityPackets, tenantPackets));
        this.newcomerBytes = perInterval(Math.min(capacityBytes, tenantBytes));
    }

    /** A tenant's state. */
    static final class Tenant {
        final String name;
        final ShareMeter meter;
        final Map<NodeKey, Node> nodes = new ConcurrentHashMap<>();
        /** The tenant's part of the relay now, per second (for relay:sessions). */
        volatile double partPackets = Double.POSITIVE_INFINITY;
        volatile double partBytes = Double.POSITIVE_INFINITY;
        /** A node's part, per interval, until the division has seen it send. */
        volatile long newcomerPackets;
        volatile long newcomerBytes;
        volatile long lastActive;

        Tenant(String name, long packets, long bytes, long now) {
            this.name = name;
            this.meter = new ShareMeter(bound(packets), bound(bytes));
            this.newcomerPackets = packets;
            this.newcomerBytes = bytes;
            this.lastActive = now;
        }
    }

    /** A node identity's state, shared by all its sessions. */
    static final class Node {
        final Tenant tenant;
        final NodeKey key;
        final TokenBucket rate;
        final ShareMeter meter;
        volatile long lastActive;

        Node(Tenant tenant, NodeKey key, TokenBucket rate, long now) {
            this.tenant = tenant;
            this.key = key;
            this.rate = rate;
            this.meter = new ShareMeter(tenant.newcomerPackets, tenant.newcomerBytes);
            this.lastActive = now;
        }
    }

    /** The node's state, made on its first session and found again by the later ones. */
    Node node(String tenant, NodeKey key, long now) {
        // compute, so that the sweep (which removes in computeIfPresent) cannot drop a state
        // between its lookup here and the session's attach: touched here, it is not idle.
        Tenant t = tenants.compute(tenant, (k, v) -> {
            Tenant x = v != null ? v : new Tenant(k, newcomerPackets, newcomerBytes, now);
            x.lastActive = now;
            return x;
        });
        return t.nodes.compute(key, (k, v) -> {
            Node x = v != null ? v
                    : new Node(t, k, new TokenBucket(config.nodePacketsPerSecond(), config.nodeBytesPerSecond(), now), now);
            x.lastActive = now;
            return x;
        });
    }

    /** Takes one packet of {@code size} bytes from the node's rate and shares, or refuses it. */
    boolean admit(Node node, int size, long now) {
        if (now - nextRebalance >= 0) {
            rebalance(now);
        }
        if (!node.rate.take(size, now)) {
            return false; // over the node's own rate: not demand the shares should answer
        }
        ShareMeter n = node.meter;
        ShareMeter t = node.tenant.meter;
        if (n.allows() && t.allows()) {
            n.use(size);
            t.use(size);
            return true;
        }
        n.refuse(size);
        t.refuse(size);
        return false;
    }

    /** Divides the shares again if the interval is over and no other thread is at it. */
    void rebalance(long now) {
        if (!rebalancing.tryLock()) {
            return;
        }
        try {
            if (now - nextRebalance >= 0) {
                divide(now);
            }
        } finally {
            rebalancing.unlock();
        }
    }

    private void divide(long now) {
        long start = lastRebalance;
        double seconds = Math.max(now - start, 1) / 1e9;
        lastRebalance = now;
        nextRebalance = now + INTERVAL_NANOS;
        List<Tenant> list = new ArrayList<>(tenants.values());
        int count = list.size();
        double[] packets = new double[count];
        double[] bytes = new double[count];
        for (int i = 0; i < count; i++) {
            Tenant t = list.get(i);
            t.meter.endInterval(seconds);
            packets[i] = t.meter.demandPackets();
            bytes[i] = t.meter.demandBytes();
            if (packets[i] > 0) {
                t.lastActive = Math.max(t.lastActive, start); // it was active at some time in the interval: no earlier than its start
            }
        }
        double[] packetLimits = new double[count];
        double[] byteLimits = new double[count];
        double newcomerPps = Math.min(MaxMinShare.divide(packets, count, capacityPackets, packetLimits), tenantPackets);
        double newcomerBps = Math.min(MaxMinShare.divide(bytes, count, capacityBytes, byteLimits), tenantBytes);
        for (int i = 0; i < count; i++) {
            Tenant t = list.get(i);
            double pps = Math.min(packetLimits[i], tenantPackets);
            double bps = Math.min(byteLimits[i], tenantBytes);
            t.meter.allow(bound(perInterval(pps)), bound(perInterval(bps)));
            t.partPackets = pps;
            t.partBytes = bps;
            divide(t, pps, bps, seconds, start, now);
            if (t.nodes.isEmpty()) {
                tenants.computeIfPresent(t.name, (k, v) -> v.nodes.isEmpty() && now - v.lastActive > RETAIN_NANOS ? null : v);
            }
        }
        newcomerPackets = perInterval(newcomerPps);
        newcomerBytes = perInterval(newcomerBps);
    }

    /** A tenant's part among its nodes; a node with no session, idle for long enough, is forgotten. */
    private void divide(Tenant tenant, double pps, double bps, double seconds, long start, long now) {
        List<Node> list = new ArrayList<>(tenant.nodes.values());
        int count = list.size();
        double[] packets = new double[count];
        double[] bytes = new double[count];
        for (int i = 0; i < count; i++) {
            Node n = list.get(i);
            n.meter.endInterval(seconds);
            packets[i] = n.meter.demandPackets();
            bytes[i] = n.meter.demandBytes();
            if (packets[i] > 0) {
                n.lastActive = Math.max(n.lastActive, start);
            }
        }
        double[] packetLimits = new double[count];
        double[] byteLimits = new double[count];
        tenant.newcomerPackets = perInterval(MaxMinShare.divide(packets, count, pps, packetLimits));
        tenant.newcomerBytes = perInterval(MaxMinShare.divide(bytes, count, bps, byteLimits));
        for (int i = 0; i < count; i++) {
            Node n = list.get(i);
            n.meter.allow(perInterval(packetLimits[i]), perInterval(byteLimits[i]));
            if (now - n.lastActive > RETAIN_NANOS && !attached.test(tenant.name, n.key)) {
                tenant.nodes.computeIfPresent(n.key, (k, v) -> v == n && now - v.lastActive > RETAIN_NANOS
                        && !attached.test(tenant.name, k) ? null : v);
            }
        }
    }

    /** The tenants' states now, for relay:sessions and tests. */
    Map<String, Tenant> tenants() {
        return tenants;
    }

    private static double rate(long configured) {
        return configured <= 0 ? Double.POSITIVE_INFINITY : configured;
    }

    /** A rate's allowance for one interval: at least one (see ShareMeter.allows). */
    static long perInterval(double rate) {
        if (Double.isInfinite(rate)) {
            return ShareMeter.UNLIMITED;
        }
        return Math.max(1, Math.round(rate * INTERVAL_NANOS / 1e9));
    }

    private static long bound(long allowance) {
        return allowance >= ShareMeter.UNLIMITED / TENANT_BOUND ? ShareMeter.UNLIMITED : allowance * TENANT_BOUND;
    }
}
