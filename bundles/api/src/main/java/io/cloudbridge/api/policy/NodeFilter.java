package io.cloudbridge.api.policy;

import java.util.List;

/**
 * What a node lets in from the overlay: its tenant's policy, compiled for this node's addresses.
 * The rules are tried in order and the first that matches decides; a packet no rule matches is
 * denied. Replies to flows the node opened are not the rules' business: the filter lets them in.
 *
 * @param policyVersion the version of the tenant's policy it was compiled from; 0 for a tenant
 *                      without a policy, whose nodes let everything in
 */
public record NodeFilter(long policyVersion, List<FilterRule> rules) {

    /** A tenant without a policy: everything is let in. */
    public static final NodeFilter OPEN = new NodeFilter(0, List.of());

    public NodeFilter {
        if (policyVersion < 0) {
            throw new IllegalArgumentException("policy version " + policyVersion);
        }
        rules = List.copyOf(rules);
        if (policyVersion == 0 && !rules.isEmpty()) {
            throw new IllegalArgumentException("a filter with rules comes from a policy, which has a version");
        }
    }

    /** No policy: nothing is filtered. */
    public boolean open() {
        return policyVersion == 0;
    }
}
