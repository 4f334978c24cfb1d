package io.cloudbridge.filter.internal;

import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * The connection-tracking table: bounded, split into stripes that each have their own lock, share
 * of the bound and recency lists, so that the data path's threads contend only when their flows
 * fall into the same stripe, and a packet of a known flow costs one lock and one hash look-up.
 *
 * <p>When a stripe is full, a new flow takes the place of, in this order:
 * <ol>
 * <li>the stripe's least recently seen assured flow if it has expired;</li>
 * <li>its least recently seen flow that is not assured: a denied flow, or one only one side has
 * spoken on since (a port scan, a flood of SYNs, a DNS query answered once);</li>
 * <li>its least recently seen assured flow.</li>
 * </ol>
 * A flood of new flows therefore pushes out other new flows, and reaches the assured ones, the
 * conversations, only when a stripe holds nothing else. Each forced removal of a flow that had not
 * expired is counted as an eviction. Expired flows are also removed when looked up and by
 * {@link #sweep}. Because each stripe evicts on its own, the order above is kept per stripe, not
 * across the table: with the default 64 stripes of 1,024 flows, a good enough approximation.
 */
final class FlowTable {
    private static final int MAX_STRIPES = 64;
    /** Fewer, fuller stripes for a small bound: a stripe of a handful of flows would evict at random. */
    private static final int MIN_FLOWS_PER_STRIPE = 16;

    private final Stripe[] stripes;
    private final LongAdder evictions = new LongAdder();
    private volatile Timeouts timeouts;
    private volatile int bound;

    FlowTable(int bound, Timeouts timeouts) {
        int count = Integer.highestOneBit(Math.max(1, Math.min(MAX_STRIPES, bound / MIN_FLOWS_PER_STRIPE)));
        stripes = new Stripe[count];
        for (int i = 0; i < count; i++) {
            stripes[i] = new Stripe();
        }
        this.timeouts = timeouts;
        setBound(bound, 0); // nothing to evict yet
    }

    /** The stripe a flow lives in; the caller holds its lock while it uses it. */
    Stripe stripe(FlowKey key) {
        int h = key.hashCode();
        return stripes[(h ^ (h >>> 16)) & (stripes.length - 1)];
    }

    void setTimeouts(Timeouts timeouts) {
        this.timeouts = timeouts;
    }

    /**
     * Shares {@code bound} among the stripes (at least one flow each: the number of stripes is set
     * at construction) and evicts at once from those now over their share.
     */
    void setBound(int bound, long nowNanos) {
        int per = bound / stripes.length;
        int rest = bound % stripes.length;
        int total = 0;
        for (int i = 0; i < stripes.length; i++) {
            Stripe s = stripes[i];
            synchronized (s) {
                s.capacity = Math.max(1, per + (i < rest ? 1 : 0));
                total += s.capacity;
                while (s.size > s.capacity) {
                    s.evictOne(nowNanos);
                }
            }
        }
        this.bound = total;
    }

    int bound() {
        return bound;
    }

    int size() {
        int size = 0;
        for (Stripe s : stripes) {
            size += s.size;
        }
        return size;
    }

    long evictions() {
        return evictions.sum();
    }

    /** Removes every expired flow. */
    void sweep(long nowNanos) {
        Timeouts t = timeouts;
        retain(flow -> !t.expired(flow, nowNanos));
    }

    /** Keeps the flows {@code keep} says yes to, one stripe at a time under its lock; returns how many went. */
    int retain(Predicate<Flow> keep) {
        int removed = 0;
        for (Stripe s : stripes) {
            synchronized (s) {
                for (Iterator<Flow> i = s.flows.values().iterator(); i.hasNext(); ) {
                    Flow flow = i.next();
                    if (!keep.test(flow)) {
                        i.remove();
                        s.unlink(flow);
                        s.size--;
                        removed++;
                    }
                }
            }
        }
        return removed;
    }

    /** Shows every flow to {@code reader}, one stripe at a time under its lock. */
    void forEach(Consumer<Flow> reader) {
        for (Stripe s : stripes) {
            synchronized (s) {
                s.flows.values().forEach(reader);
            }
        }
    }

    /**
     * A part of the table. Every method is called with the stripe's lock held
     * ({@code synchronized (stripe)}), which guards its map, its lists and its flows.
     */
    final class Stripe {
        private final Map<FlowKey, Flow> flows = new HashMap<>();
        /** Recency lists, oldest first: flows not assured (denied ones among them), and assured flows. */
        private Flow provisionalOldest;
        private Flow provisionalNewest;
        private Flow assuredOldest;
        private Flow assuredNewest;
        private int capacity;
        /** Written under the lock, read without it for the table's size. */
        private volatile int size;

        /** The live flow of {@code key}, or null; an expired one is removed on the way. */
        Flow find(FlowKey key, long nowNanos) {
            Flow flow = flows.get(key);
            if (flow != null && timeouts.expired(flow, nowNanos)) {
                remove(flow);
                return null;
            }
            return flow;
        }

        /** Tracks a new flow seen now, making room for it first when the stripe is full. */
        Flow add(FlowKey key, Flow.Origin origin, int rule, DropReason denial, long nowNanos) {
            while (size >= capacity) {
                evictOne(nowNanos);
            }
            Flow flow = new Flow(key, origin, rule, denial);
            flow.lastSeenNanos = nowNanos;
            flows.put(key, flow);
            size++;
            link(flow);
            return flow;
        }

        /** The flow was seen now: it moves to the newest end of its list, the assured one if it just became assured. */
        void touch(Flow flow, long nowNanos) {
            flow.lastSeenNanos = nowNanos;
            if (flow.newer == null && flow.listedAssured == flow.assured) {
                return; // newest of its list already (a busy flow's every packet): nothing to move
            }
            unlink(flow);
            link(flow);
        }

        void remove(Flow flow) {
            if (flows.remove(flow.key) == flow) {
                unlink(flow);
                size--;
            }
        }

        private void evictOne(long nowNanos) {
            Timeouts t = timeouts;
            Flow victim;
            if (assuredOldest != null && t.expired(assuredOldest, nowNanos)) {
                victim = assuredOldest;
            } else {
                victim = provisionalOldest != null ? provisionalOldest : assuredOldest;
            }
            if (!t.expired(victim, nowNanos)) {
                evictions.increment();
            }
            remove(victim);
        }

        private void link(Flow flow) {
            flow.listedAssured = flow.assured;
            flow.newer = null;
            if (flow.listedAssured) {
                flow.older = assuredNewest;
                if (assuredNewest != null) {
                    assuredNewest.newer = flow;
                } else {
                    assuredOldest = flow;
                }
                assuredNewest = flow;
            } else {
                flow.older = provisionalNewest;
                if (provisionalNewest != null) {
                    provisionalNewest.newer = flow;
                } else {
                    provisionalOldest = flow;
                }
                provisionalNewest = flow;
            }
        }

        private void unlink(Flow flow) {
            if (flow.older != null) {
                flow.older.newer = flow.newer;
            } else if (flow.listedAssured) {
                assuredOldest = flow.newer;
            } else {
                provisionalOldest = flow.newer;
            }
            if (flow.newer != null) {
                flow.newer.older = flow.older;
            } else if (flow.listedAssured) {
                assuredNewest = flow.older;
            } else {
                provisionalNewest = flow.older;
            }
            flow.older = null;
            flow.newer = null;
        }
    }
}
