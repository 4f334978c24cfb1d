package io.cloudbridge.control.relay.internal;

import io.cloudbridge.api.net.IpPrefix;
import io.cloudbridge.api.policy.FilterRule;
import io.cloudbridge.api.policy.NodeFilter;
import io.cloudbridge.api.policy.PortRange;
import io.cloudbridge.control.v1.PacketFilter;

/** A node's filter as the map carries it. */
final class PolicyMessages {
    private PolicyMessages() {
    }

    static PacketFilter toMessage(NodeFilter filter) {
        PacketFilter.Builder b = PacketFilter.newBuilder().setPolicyVersion(filter.policyVersion());
        for (FilterRule r : filter.rules()) {
            io.cloudbridge.control.v1.FilterRule.Builder rule = io.cloudbridge.control.v1.FilterRule.newBuilder()
                    .setPosition(r.position()).setName(r.name()).setAccept(r.accept());
            for (IpPrefix p : r.sources()) {
                rule.addSources(MapPeers.addr(p.address()) + "/" + p.length());
            }
            for (IpPrefix p : r.destinations()) {
                rule.addDestinations(MapPeers.addr(p.address()) + "/" + p.length());
            }
            r.protocols().stream().sorted().forEach(rule::addProtocols);
            for (PortRange p : r.ports()) {
                rule.addPorts(io.cloudbridge.control.v1.PortRange.newBuilder().setFirst(p.first()).setLast(p.last()));
            }
            b.addRules(rule);
        }
        return b.build();
    }
}
