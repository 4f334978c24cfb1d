package io.cloudbridge.filter.internal;

import io.cloudbridge.api.policy.NodeFilter;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;

/**
 * The filter's decisions: the rules in force, the connection-tracking table, the counters. No
 * OSGi here; {@link NodeFilterService} is the component around it.
 *
 * <p>An inbound packet of a tracked flow is let in without the rules: a reply to a flow this node
 * opened, or a later packet of a flow a rule let in. Any other inbound packet opens a new flow,
 * which the rules decide in order, the first matching one deciding, none meaning deny; a flow they
 * refuse is remembered too, so that its refusal is logged once and its later packets are dropped
 * with one look-up. Without a policy (filter version 0) everything is let in; before any filter,
 * only what the node asked for is (fail closed).
 *
 * <p>A new flow is any packet of an unknown flow, not only a TCP SYN: a flow forgotten (idle, or
 * evicted) or one from before a restart is simply decided again, so forgetting costs little, and
 * the rules are about who may talk to whom on what, which a mid-flow packet shows as well as a
 * first one. On the node's side, a packet it sends opens a flow unless it can only be an answer
 * (a TCP SYN+ACK or RST, an ICMP echo reply or error): after a flow's state was lost, whichever
 * side speaks first decides whose flow it is.
 *
 * <p>ICMP: an echo reply is let in only as the reply to an echo request the node sent with the same
 * identifier. An error (destination unreachable, including fragmentation needed, packet too big,
 * time exceeded, parameter problem) is let in when the packet it quotes, a packet this node sent,
 * belongs to a flow the filter tracks and did not refuse, and the error comes from that flow's
 * peer: path MTU discovery and a refused connection's quick failure keep working, and an error
 * about nothing the node did, or about another peer's flow, is dropped.
 *
 * <p>Fragments: a non-first fragment is let in. It has no ports to filter on, and without its first
 * fragment, which is filtered like a whole packet, the node cannot reassemble it and discards it
 * when its reassembly times out. The parser refuses first fragments too short to show the ports
 * and IPv4 TCP fragments at offset 8, so a later fragment cannot change what the first one showed
 * (see {@link PacketHeaders}).
 *
 * <p>A new filter ({@link #install}) takes over at once; every flow a peer opened under the rules
 * before is checked against the new ones and, if they refuse it, kept as refused: its packets are
 * dropped, and the node's own packets on it (a server still answering) do not make it the node's;
 * only a new connection of the node's (a TCP SYN, an echo request) takes a refused flow over.
 * Earlier refusals are forgotten (the new rules may allow them); the node's own flows stay.
 *
 * <p>Without a policy the data path pays one read of a volatile field: nothing is parsed or
 * tracked. When a tenant's first policy arrives, the flows open then are decided at their next
 * packet like any other: a peer's by the rules, and the node's own by its next packet out, which
 * opens it again as the node's (a TCP segment other than SYN+ACK or RST, a datagram, an echo
 * request), so that its replies keep coming in.
 *
 * <p>Threads: both directions are called concurrently. A packet takes the lock of its flow's
 * stripe of the table, and reads the filter in force under it, so that a flow added under the old
 * filter is always seen by the re-check of {@link #install}, which swaps the filter first and then
 * visits every stripe under its lock.
 */
final class StatefulFilter {
    private final LongSupplier nanoTime;
    private final FlowTable flows;
    private final DenialLog denials;
    private final LongAdder[] drops = new LongAdder[DropReason.values().length];
    private final LongAdder laterFragments = new LongAdder();
    private final LongAdder relatedErrors = new LongAdder();
    /** The node's own packets on flows the filter refused, not sent. */
    private final LongAdder outboundRefused = new LongAdder();
    /** Null until the node has had a filter: fail closed. */
    private volatile CompiledFilter inForce;

    StatefulFilter(int maxFlows, Timeouts timeouts, LongSupplier nanoTime, DenialLog.Sink denialLines) {
        this.nanoTime = nanoTime;
        this.flows = new FlowTable(maxFlows, timeouts);
        this.denials = new DenialLog(denialLines, nanoTime);
        for (int i = 0; i < drops.length; i++) {
            drops[i] = new LongAdder();
        }
    }

    boolean admitInbound(byte[] packet, int offset, int length) {
        CompiledFilter open = inForce;
        if (open != null && open.open()) {
            return true; // no policy: nothing to decide, nothing to track (see the class comment)
        }
        PacketHeaders h = new PacketHeaders();
        if (!h.read(packet, offset, length)) {
            return drop(DropReason.MALFORMED);
        }
        if (h.laterFragment) {
            laterFragments.increment();
            return true;
        }
        if (h.isIcmpError()) {
            return admitIcmpError(packet, h);
        }
        FlowKey key = FlowKey.inbound(h);
        long now = nanoTime.getAsLong();
        FlowTable.Stripe stripe = flows.stripe(key);
        DropReason refusal;
        String decidedBy;
        synchronized (stripe) {
            Flow flow = stripe.find(key, now);
            if (flow != null) {
                return inboundOnTracked(stripe, flow, h.tcpFlags, now);
            }
            CompiledFilter filter = inForce;
            int rule = CompiledFilter.NO_RULE;
            if (filter != null && filter.open()) {
                if (!h.isEchoReply()) { // an unasked-for reply opens nothing, even when everything is let in
                    stripe.add(key, Flow.Origin.PEER, rule, null, now).seenFromOpener(h.tcpFlags);
                }
                return true;
            } else if (filter == null) {
                refusal = DropReason.NO_FILTER_YET;
                decidedBy = "no filter yet, only replies are let in";
            } else if (h.isEchoReply()) {
                refusal = DropReason.UNSOLICITED_REPLY;
                decidedBy = "an echo reply to no request of this node's";
            } else {
                rule = filter.match(key);
                if (rule != CompiledFilter.NO_RULE) {
                    filter.hit(rule);
                    if (filter.accepts(rule)) {
                        stripe.add(key, Flow.Origin.PEER, rule, null, now).seenFromOpener(h.tcpFlags);
                        return true;
                    }
                    refusal = DropReason.DENIED_BY_RULE;
                    decidedBy = filter.rule(rule).label();
                } else {
                    refusal = DropReason.DEFAULT_DENY;
                    decidedBy = "no rule matched: default deny";
                }
            }
            stripe.add(key, Flow.Origin.DENIED, rule, refusal, now);
        }
        denials.refused(key, decidedBy);
        return drop(refusal);
    }

    private boolean inboundOnTracked(FlowTable.Stripe stripe, Flow flow, int tcpFlags, long now) {
        switch (flow.origin) {
            case US -> flow.seenFromAnswerer(tcpFlags);
            case PEER -> flow.seenFromOpener(tcpFlags);
            case DENIED -> {
                stripe.touch(flow, now); // a refused flow that keeps sending stays remembered, and unlogged
                return drop(flow.denial);
            }
        }
        stripe.touch(flow, now);
        return true;
    }

    /** Related to a flow the filter let through, or dropped; the quote is a packet this node sent. */
    private boolean admitIcmpError(byte[] packet, PacketHeaders error) {
        CompiledFilter filter = inForce;
        if (filter != null && filter.open()) {
            return true;
        }
        PacketHeaders quoted = new PacketHeaders();
        if (!quoted.readQuoted(packet, error.quoteOffset, error.end - error.quoteOffset) || quoted.version != error.version) {
            return drop(DropReason.MALFORMED);
        }
        if (quoted.laterFragment || quoted.isIcmpError()) {
            // No ports to find a flow by; and no error is ever sent about an error (RFC 1122, 3.2.2).
            return drop(DropReason.UNRELATED_ICMP_ERROR);
        }
        if (quoted.destinationHigh != error.sourceHigh || quoted.destinationLow != error.sourceLow) {
            // In the overlay the far end of a flow is the peer itself, which is who reports trouble
            // with it: an error about another peer's flow would let any peer cut or shrink it.
            return drop(DropReason.UNRELATED_ICMP_ERROR);
        }
        FlowKey key = FlowKey.outbound(quoted);
        FlowTable.Stripe stripe = flows.stripe(key);
        long now = nanoTime.getAsLong();
        synchronized (stripe) {
            Flow flow = stripe.find(key, now);
            if (flow != null && flow.origin != Flow.Origin.DENIED) {
                relatedErrors.increment();
                return true;
            }
        }
        return drop(DropReason.UNRELATED_ICMP_ERROR);
    }

    /** False for a packet of a flow the filter refused (or the policy stopped): it is not to be sent. */
    boolean noteOutbound(byte[] packet, int offset, int length) {
        CompiledFilter open = inForce;
        if (open != null && open.open()) {
            return true;
        }
        PacketHeaders h = new PacketHeaders();
        if (!h.read(packet, offset, length) || h.laterFragment || h.isIcmpError()) {
            return true; // nothing a reply could be matched to
        }
        FlowKey key = FlowKey.outbound(h);
        long now = nanoTime.getAsLong();
        FlowTable.Stripe stripe = flows.stripe(key);
        synchronized (stripe) {
            Flow flow = stripe.find(key, now);
            if (flow == null) {
                if (opensFlow(h)) {
                    stripe.add(key, Flow.Origin.US, CompiledFilter.NO_RULE, null, now).seenFromOpener(h.tcpFlags);
                }
                return true;
            }
            switch (flow.origin) {
                case US -> flow.seenFromOpener(h.tcpFlags); // an assured flow moves to its list in touch
                case PEER -> flow.seenFromAnswerer(h.tcpFlags);
                case DENIED -> {
                    // Only a new connection of this node's takes a refused flow over (a TCP SYN, an
                    // echo request). Anything else on it (a server still answering a peer the policy
                    // stopped) is not sent, and keeps the refusal remembered: forgotten, the node's
                    // next packet would open the flow again as its own and let the peer back in.
                    if (!opensNewConnection(h)) {
                        stripe.touch(flow, now);
                        outboundRefused.increment();
                        return false;
                    }
                    flow.takenOverByUs();
                    flow.seenFromOpener(h.tcpFlags);
                }
            }
            stripe.touch(flow, now);
            return true;
        }
    }

    /** A TCP SYN (without ACK) or an ICMP echo request: unmistakably the start of something new. */
    private static boolean opensNewConnection(PacketHeaders h) {
        if (h.protocol == PacketHeaders.TCP) {
            return (h.tcpFlags & (PacketHeaders.TCP_SYN | PacketHeaders.TCP_ACK)) == PacketHeaders.TCP_SYN;
        }
        return h.isIcmp() && h.isEchoRequest();
    }

    /** Whether a packet the node sends on no known flow opens one, rather than answering a flow the table lost. */
    private static boolean opensFlow(PacketHeaders h) {
        if (h.protocol == PacketHeaders.TCP) {
            int synAck = PacketHeaders.TCP_SYN | PacketHeaders.TCP_ACK;
            return (h.tcpFlags & PacketHeaders.TCP_RST) == 0 && (h.tcpFlags & synAck) != synAck;
        }
        if (h.isIcmp()) {
            return h.isEchoRequest();
        }
        return true;
    }

    /**
     * Puts {@code filter} in force and re-checks the flows peers opened; returns how many it
     * stopped. Installs are serialized; packets go on meanwhile.
     */
    synchronized int install(NodeFilter filter) {
        CompiledFilter compiled = CompiledFilter.of(filter);
        inForce = compiled;
        int[] stopped = {0};
        java.util.List<Object[]> stops = new java.util.ArrayList<>();
        flows.retain(flow -> switch (flow.origin) {
            case US -> true;
            case DENIED -> {
                // A refusal stands unless the new rules accept the flow: then it is the peer's flow,
                // admitted (forgetting it instead would let the node's next packet make it its own).
                int rule = compiled.open() ? CompiledFilter.NO_RULE : compiled.match(flow.key);
                if (compiled.open() || (rule != CompiledFilter.NO_RULE && compiled.accepts(rule))) {
                    flow.origin = Flow.Origin.PEER;
                    flow.denial = null;
                } else {
                    flow.denial = rule == CompiledFilter.NO_RULE ? DropReason.DEFAULT_DENY : DropReason.DENIED_BY_RULE;
                }
                flow.rule = rule;
                yield true;
            }
            case PEER -> {
                int rule = compiled.open() ? CompiledFilter.NO_RULE : compiled.match(flow.key);
                if (compiled.open() || (rule != CompiledFilter.NO_RULE && compiled.accepts(rule))) {
                    flow.rule = rule;
                    yield true;
                }
                // Kept, as refused: forgotten, the flow's next packet from this node (a server
                // answering what arrived just before) would open it again as this node's own.
                flow.origin = Flow.Origin.DENIED;
                flow.rule = rule;
                flow.denial = rule == CompiledFilter.NO_RULE ? DropReason.DEFAULT_DENY : DropReason.DENIED_BY_RULE;
                stopped[0]++;
                if (stops.size() < DenialLog.LINES_PER_SECOND) {
                    stops.add(new Object[] {flow.key, rule == CompiledFilter.NO_RULE ? "no rule matched: default deny"
                            : compiled.rule(rule).label()});
                }
                yield true;
            }
        });
        // Each stopped flow is a refusal like any other: logged once (the log's own rate bound applies).
        stops.forEach(stop -> denials.refused((FlowKey) stop[0], "stopped by the new policy, " + stop[1]));
        return stopped[0];
    }

    /** Back to no filter at all: nothing gets in but replies to the node's own flows (fail closed). */
    synchronized void clear() {
        inForce = null;
    }

    /** The filter in force, or null before the first. */
    CompiledFilter inForce() {
        return inForce;
    }

    void configure(Timeouts timeouts, int maxFlows) {
        flows.setTimeouts(timeouts);
        flows.setBound(maxFlows, nanoTime.getAsLong());
    }

    /** Forgets the flows that have been idle for longer than their timeout. */
    void sweep() {
        flows.sweep(nanoTime.getAsLong());
    }

    private boolean drop(DropReason reason) {
        drops[reason.ordinal()].increment();
        return false;
    }

    long drops(DropReason reason) {
        return drops[reason.ordinal()].sum();
    }

    long laterFragmentsAdmitted() {
        return laterFragments.sum();
    }

    long outboundRefused() {
        return outboundRefused.sum();
    }

    long relatedErrorsAdmitted() {
        return relatedErrors.sum();
    }

    long deniedFlows() {
        return denials.deniedFlows();
    }

    int flowCount() {
        return flows.size();
    }

    int flowBound() {
        return flows.bound();
    }

    long evictions() {
        return flows.evictions();
    }

    /** The flows tracked now, by origin, and the peers' flows by the rule of {@code filter} that let them in. */
    TableCensus census(CompiledFilter filter) {
        int rules = filter == null ? 0 : filter.ruleCount();
        TableCensus census = new TableCensus(new int[rules]);
        flows.forEach(flow -> census.count(flow, rules));
        return census;
    }

    /** What {@link #census} counted. */
    static final class TableCensus {
        int ours;
        int peers;
        int denied;
        /** Flows peers opened, per rule index, of the filter asked about. */
        final int[] byRule;

        TableCensus(int[] byRule) {
            this.byRule = byRule;
        }

        private void count(Flow flow, int rules) {
            switch (flow.origin) {
                case US -> ours++;
                case DENIED -> denied++;
                case PEER -> {
                    peers++;
                    if (flow.rule >= 0 && flow.rule < rules) {
                        byRule[flow.rule]++;
                    }
                }
            }
        }
    }
}
