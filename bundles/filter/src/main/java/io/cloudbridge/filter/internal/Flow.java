package io.cloudbridge.filter.internal;

/**
 * One tracked flow: who opened it, what the filter decided, what was seen of it and when. Changed
 * and read only under the lock of its {@link FlowTable.Stripe}.
 */
final class Flow {
    enum Origin {
        /** This node sent its first packet: the peer's packets are replies, let in whatever the rules. */
        US,
        /** The peer opened it and a rule (or the absence of a policy) let it in: re-checked when the rules change. */
        PEER,
        /** The peer opened it and the filter refused it: kept so that the refusal is logged once, not per packet. */
        DENIED
    }

    final FlowKey key;
    Origin origin;
    /** The index of the rule that admitted or denied it; -1 for none (no policy, default deny, no filter yet). */
    int rule;
    /** Why a denied flow's packets are dropped. */
    DropReason denial;
    /** A packet came from the side that did not open it. */
    boolean replied;
    /**
     * The opener sent again after a reply: a two-way conversation (for TCP, the handshake's last
     * ACK), which a flood of one-sided new flows cannot fake. Assured flows are evicted last.
     */
    boolean assured;
    /** TCP: a FIN or a RST was seen, so the flow idles out on the short closing timeout. */
    boolean closing;
    long lastSeenNanos;

    // The stripe's recency lists.
    Flow older;
    Flow newer;
    boolean listedAssured;

    Flow(FlowKey key, Origin origin, int rule, DropReason denial) {
        this.key = key;
        this.origin = origin;
        this.rule = rule;
        this.denial = denial;
    }

    /** A packet from the side that opened the flow; true when it just became assured. */
    boolean seenFromOpener(int tcpFlags) {
        followTcp(tcpFlags);
        if (replied && !assured) {
            assured = true;
            return true;
        }
        return false;
    }

    /** A packet from the other side: a reply. */
    void seenFromAnswerer(int tcpFlags) {
        followTcp(tcpFlags);
        replied = true;
    }

    /** The node itself sends on a flow it had refused from the peer: from now on the node opened it. */
    void takenOverByUs() {
        origin = Origin.US;
        rule = -1;
        denial = null;
        replied = false;
        closing = false;
    }

    private void followTcp(int flags) {
        if (key.protocol != PacketHeaders.TCP) {
            return;
        }
        if ((flags & (PacketHeaders.TCP_FIN | PacketHeaders.TCP_RST)) != 0) {
            closing = true;
        } else if ((flags & (PacketHeaders.TCP_SYN | PacketHeaders.TCP_ACK)) == PacketHeaders.TCP_SYN) {
            closing = false; // the same ports again after a close: a new connection, on the long timeout again
        }
    }
}
