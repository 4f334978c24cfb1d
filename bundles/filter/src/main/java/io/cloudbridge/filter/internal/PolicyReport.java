package io.cloudbridge.filter.internal;

import io.cloudbridge.api.policy.FilterRule;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;

/** What {@code cb:policy} shows: the filter in force, each rule with its counts, the drops and the table. */
final class PolicyReport {
    private PolicyReport() {
    }

    static List<String> describe(StatefulFilter filter) {
        List<String> lines = new ArrayList<>();
        CompiledFilter inForce = filter.inForce();
        StatefulFilter.TableCensus census = filter.census(inForce);
        if (inForce == null) {
            lines.add("no filter yet: only replies are let in");
        } else if (inForce.open()) {
            lines.add("no policy: everything is let in");
        } else {
            lines.add("policy version " + inForce.filter.policyVersion() + ": " + inForce.ruleCount()
                    + " rules; the first that matches a new flow decides, none matching denies it");
            for (int i = 0; i < inForce.ruleCount(); i++) {
                lines.add("  " + rule(inForce.rule(i)) + ": " + inForce.hits(i).sum() + " new flows"
                        + (inForce.accepts(i) ? ", " + census.byRule[i] + " open" : ""));
            }
        }
        lines.add("dropped packets: " + Arrays.stream(DropReason.values())
                .map(r -> r.label + " " + filter.drops(r)).collect(Collectors.joining(", ")));
        lines.add("let in without the rules: " + filter.laterFragmentsAdmitted() + " non-first fragments, "
                + filter.relatedErrorsAdmitted() + " icmp errors about tracked flows");
        lines.add("not sent: " + filter.outboundRefused() + " packets of this node's on flows the policy refused or stopped");
        lines.add("flows: " + filter.flowCount() + " of " + filter.flowBound() + " (" + census.ours + " opened by this node, "
                + census.peers + " by peers, " + census.denied + " refused), " + filter.evictions() + " evicted, "
                + filter.deniedFlows() + " refused so far");
        return lines;
    }

    /** {@code rule 1 (ssh) accept from 100.64.0.0/10 to 100.64.0.5/32, tcp, ports 22,8000-8080}. */
    static String rule(FilterRule r) {
        return r.label() + " " + (r.accept() ? "accept" : "deny")
                + " from " + (r.sources().isEmpty() ? "nobody" : join(r.sources()))
                + " to " + (r.destinations().isEmpty() ? "nothing" : join(r.destinations()))
                + ", " + (r.protocols().isEmpty() ? "any protocol"
                        : r.protocols().stream().sorted().map(FlowKey::protocolName).collect(Collectors.joining(",")))
                + ", " + (r.ports().isEmpty() ? "any port" : "ports " + join(r.ports()));
    }

    private static String join(List<?> items) {
        return items.stream().map(Object::toString).collect(Collectors.joining(","));
    }
}
