package io.cloudbridge.filter.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/**
 * The 'filter' section: the bound of the connection-tracking table and how long an idle flow is
 * remembered.
 *
 * <p>An idle flow that is forgotten costs little: a peer's flow is simply checked against the rules
 * again at its next packet (mid-flow packets open a flow like first ones), and a flow this node
 * opened is tracked again at the node's next packet; only a peer that speaks first on a long idle
 * flow the node opened is refused until the node sends. That is why the TCP timeout is five
 * minutes rather than conntrack's five days or the two hours of TCP keepalive: a node's table is
 * bounded, and every entry held for a dead connection is one a live flow may need.
 */
@ObjectClassDefinition(name = "Packet filter", description = "The node's stateful filter on the overlay's decrypted packets")
public @interface FilterConfig {

    @AttributeDefinition(min = "16", description = "Most flows tracked at once; beyond it the least useful flow is forgotten (and counted)")
    int maxFlows() default 65_536;

    @AttributeDefinition(min = "1", description = "Seconds an idle TCP flow is remembered")
    long tcpEstablishedSeconds() default 300;

    /**
     * Long enough for the rest of the close (the other FIN, the last ACK and their retransmissions
     * within a few RTTs), short enough that closed connections leave the table soon.
     */
    @AttributeDefinition(min = "1", description = "Seconds an idle TCP flow is remembered after a FIN or a RST")
    long tcpClosingSeconds() default 20;

    @AttributeDefinition(min = "1", description = "Seconds an idle UDP flow (or one of a protocol without ports) is remembered")
    long udpSeconds() default 60;

    @AttributeDefinition(min = "1", description = "Seconds an idle ICMP flow (echo) is remembered")
    long icmpSeconds() default 30;
}
