package io.cloudbridge.filter.internal;

/** Why the filter dropped an inbound packet: each reason has its own counter, and its label is the metric's {@code reason}. */
enum DropReason {
    /** No filter yet (first start, the control plane not reached): only replies to the node's own flows get in. */
    NO_FILTER_YET("no filter yet"),
    /** A new flow no rule matched. */
    DEFAULT_DENY("default deny"),
    /** A new flow a deny rule matched. */
    DENIED_BY_RULE("denied by rule"),
    /** An echo reply to no echo request of this node's. */
    UNSOLICITED_REPLY("unsolicited icmp reply"),
    /** An ICMP error quoting a packet of no flow the filter let through. */
    UNRELATED_ICMP_ERROR("unrelated icmp error"),
    /** A packet the filter cannot read whole: truncated, inconsistent lengths, a crafted header chain or fragment. */
    MALFORMED("malformed");

    final String label;

    DropReason(String label) {
        this.label = label;
    }
}
