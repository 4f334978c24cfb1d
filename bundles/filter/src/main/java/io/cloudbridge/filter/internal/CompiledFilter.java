package io.cloudbridge.filter.internal;

import io.cloudbridge.api.net.IpPrefix;
import io.cloudbridge.api.policy.FilterRule;
import io.cloudbridge.api.policy.NodeFilter;
import io.cloudbridge.api.policy.PortRange;
import java.util.List;
import java.util.concurrent.atomic.LongAdder;

/**
 * A {@link NodeFilter} in the form the data path asks: prefixes as masked longs, protocols as a
 * table, ports as ranges, so that deciding a new flow allocates nothing; and each rule's count of
 * the new flows it decided. Immutable but for the counters; a new filter is a new instance.
 */
final class CompiledFilter {
    /** What {@link #match} answers when no rule matches. */
    static final int NO_RULE = -1;

    final NodeFilter filter;
    private final Rule[] rules;
    private final LongAdder[] hits;

    private CompiledFilter(NodeFilter filter) {
        this.filter = filter;
        List<FilterRule> source = filter.rules();
        rules = new Rule[source.size()];
        hits = new LongAdder[source.size()];
        for (int i = 0; i < rules.length; i++) {
            rules[i] = new Rule(source.get(i));
            hits[i] = new LongAdder();
        }
    }

    static CompiledFilter of(NodeFilter filter) {
        return new CompiledFilter(filter);
    }

    /** No policy: everything is let in. */
    boolean open() {
        return filter.open();
    }

    /**
     * The first rule that matches a flow the peer opens (the peer is the key's remote side, this
     * node the local one), or {@link #NO_RULE}.
     */
    int match(FlowKey flow) {
        for (int i = 0; i < rules.length; i++) {
            if (rules[i].matches(flow)) {
                return i;
            }
        }
        return NO_RULE;
    }

    /** Whether the filter lets the peer open {@code flow}: no policy, or the first matching rule accepts. */
    boolean admits(FlowKey flow) {
        if (open()) {
            return true;
        }
        int rule = match(flow);
        return rule != NO_RULE && rules[rule].accept;
    }

    boolean accepts(int rule) {
        return rules[rule].accept;
    }

    int ruleCount() {
        return rules.length;
    }

    FilterRule rule(int index) {
        return filter.rules().get(index);
    }

    /** A new flow this rule decided. */
    void hit(int rule) {
        hits[rule].increment();
    }

    LongAdder hits(int rule) {
        return hits[rule];
    }

    private static final class Rule {
        final boolean accept;
        final Prefix[] sources;
        final Prefix[] destinations;
        /** Null: any protocol. */
        final boolean[] protocols;
        /** Empty: any port. */
        final int[] firstPorts;
        final int[] lastPorts;

        Rule(FilterRule rule) {
            accept = rule.accept();
            sources = rule.sources().stream().map(Prefix::of).toArray(Prefix[]::new);
            destinations = rule.destinations().stream().map(Prefix::of).toArray(Prefix[]::new);
            if (rule.protocols().isEmpty()) {
                protocols = null;
            } else {
                protocols = new boolean[256];
                for (int p : rule.protocols()) {
                    if (p >= 0 && p < 256) {
                        protocols[p] = true;
                    }
                }
            }
            List<PortRange> ports = rule.ports();
            firstPorts = new int[ports.size()];
            lastPorts = new int[ports.size()];
            for (int i = 0; i < firstPorts.length; i++) {
                firstPorts[i] = ports.get(i).first();
                lastPorts[i] = ports.get(i).last();
            }
        }

        boolean matches(FlowKey flow) {
            if (protocols != null && !protocols[flow.protocol]) {
                return false;
            }
            if (flow.hasPorts() && firstPorts.length > 0 && !portListed(flow.localPort)) {
                return false; // ports are TCP's and UDP's; a rule's ports say nothing about other protocols
            }
            return anyContains(sources, flow.version, flow.remoteHigh, flow.remoteLow)
                    && anyContains(destinations, flow.version, flow.localHigh, flow.localLow);
        }

        private boolean portListed(int port) {
            for (int i = 0; i < firstPorts.length; i++) {
                if (port >= firstPorts[i] && port <= lastPorts[i]) {
                    return true;
                }
            }
            return false;
        }

        private static boolean anyContains(Prefix[] prefixes, int version, long high, long low) {
            for (Prefix p : prefixes) {
                if (p.contains(version, high, low)) {
                    return true;
                }
            }
            return false;
        }
    }

    /** An IP prefix as the packet parser holds addresses: IPv4 in the low 32 bits of {@code low}. */
    private record Prefix(int version, long high, long low, long highMask, long lowMask) {

        static Prefix of(IpPrefix prefix) {
            byte[] a = prefix.address().getAddress();
            if (a.length == 4) {
                long mask = prefix.length() == 0 ? 0 : (0xffffffffL << (32 - prefix.length())) & 0xffffffffL;
                return new Prefix(4, 0, bytes(a, 0, 4) & mask, 0, mask);
            }
            int length = prefix.length();
            long highMask = length == 0 ? 0 : length >= 64 ? -1L : -1L << (64 - length);
            long lowMask = length <= 64 ? 0 : length == 128 ? -1L : -1L << (128 - length);
            return new Prefix(6, bytes(a, 0, 8) & highMask, bytes(a, 8, 8) & lowMask, highMask, lowMask);
        }

        boolean contains(int candidateVersion, long candidateHigh, long candidateLow) {
            return candidateVersion == version && (candidateHigh & highMask) == high && (candidateLow & lowMask) == low;
        }

        private static long bytes(byte[] a, int from, int count) {
            long v = 0;
            for (int i = from; i < from + count; i++) {
                v = (v << 8) | (a[i] & 0xff);
            }
            return v;
        }
    }
}
