package io.cloudbridge.control.node.internal;

import io.cloudbridge.api.net.IpPrefix;
import io.cloudbridge.api.policy.FilterRule;
import io.cloudbridge.api.policy.NodeFilter;
import io.cloudbridge.api.policy.PortRange;
import io.cloudbridge.control.v1.PacketFilter;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;

/**
 * The filter a map update carries, as the node's filter takes it. A filter the node cannot read
 * whole is not read in part: it becomes one that lets nothing in (a rule left out could be a
 * deny), and the node says so.
 */
final class FilterMessages {
    private static final Logger LOG = ControlSession.LOG;
    /** More rules than a policy may have ({@code PolicyParser.MAX_RULES}) is not a filter the relay made. */
    static final int MAX_RULES = 10_000;

    private FilterMessages() {
    }

    static NodeFilter fromMessage(PacketFilter m) {
        if (m.getPolicyVersion() == 0) {
            return NodeFilter.OPEN;
        }
        try {
            if (m.getRulesCount() > MAX_RULES) {
                throw new IllegalArgumentException(m.getRulesCount() + " rules");
            }
            List<FilterRule> rules = new ArrayList<>(m.getRulesCount());
            for (io.cloudbridge.control.v1.FilterRule r : m.getRulesList()) {
                Set<Integer> protocols = new HashSet<>();
                for (int p : r.getProtocolsList()) {
                    if (p < 0 || p > 255) {
                        throw new IllegalArgumentException("protocol " + p);
                    }
                    protocols.add(p);
                }
                List<PortRange> ports = new ArrayList<>();
                for (io.cloudbridge.control.v1.PortRange p : r.getPortsList()) {
                    ports.add(new PortRange(p.getFirst(), p.getLast()));
                }
                rules.add(new FilterRule(r.getPosition(), r.getName(), r.getAccept(), prefixes(r.getSourcesList()),
                        prefixes(r.getDestinationsList()), protocols, ports));
            }
            return new NodeFilter(m.getPolicyVersion(), rules);
        } catch (IllegalArgumentException e) {
            LOG.error("the relay sent a filter (policy version {}) this node cannot read ({}): nothing is let in until it sends"
                    + " one it can", m.getPolicyVersion(), e.getMessage());
            return new NodeFilter(m.getPolicyVersion(), List.of());
        }
    }

    private static List<IpPrefix> prefixes(List<String> written) {
        List<IpPrefix> out = new ArrayList<>(written.size());
        for (String w : written) {
            out.add(IpPrefix.parse(w));
        }
        return out;
    }
}
