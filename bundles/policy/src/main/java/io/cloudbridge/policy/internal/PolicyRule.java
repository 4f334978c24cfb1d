package io.cloudbridge.policy.internal;

import io.cloudbridge.api.policy.PortRange;
import java.util.List;
import java.util.Set;

/**
 * A rule as the file writes it: from {@code sources} to {@code destinations}, on
 * {@code protocols} (IP protocol numbers; empty: any) and, for TCP and UDP, {@code ports} (empty:
 * any), {@code accept} or deny.
 */
record PolicyRule(int position, String name, boolean accept, List<Selector> sources, List<Selector> destinations,
        Set<Integer> protocols, List<PortRange> ports, int line) {

    String label() {
        return name.isEmpty() ? "rule " + position : "rule " + position + " (" + name + ")";
    }
}
