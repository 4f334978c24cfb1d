package io.cloudbridge.api.policy;

import io.cloudbridge.api.net.IpPrefix;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * One rule of a node's filter, compiled from the rule at {@code position} of the tenant's policy:
 * a packet from one of {@code sources} to one of {@code destinations} (this node's own addresses,
 * or part of them) that opens a flow on one of {@code protocols} (IP protocol numbers; empty: any)
 * and, for TCP and UDP, to one of {@code ports} (empty: any) is accepted or denied. Every address
 * is explicit: a policy's {@code *} is {@code 0.0.0.0/0} and {@code ::/0}, and a group with no
 * member has no source.
 *
 * @param position the rule's place in the policy, from 1
 * @param name     the rule's name in the policy, or empty
 */
public record FilterRule(int position, String name, boolean accept, List<IpPrefix> sources, List<IpPrefix> destinations,
        Set<Integer> protocols, List<PortRange> ports) {

    public static final int ICMP = 1;
    public static final int TCP = 6;
    public static final int UDP = 17;
    public static final int ICMPV6 = 58;

    public FilterRule {
        Objects.requireNonNull(name, "name");
        sources = List.copyOf(sources);
        destinations = List.copyOf(destinations);
        protocols = Set.copyOf(protocols);
        ports = List.copyOf(ports);
    }

    /** What an operator calls the rule: its name, or its position. */
    public String label() {
        return name.isEmpty() ? "rule " + position : "rule " + position + " (" + name + ")";
    }
}
