package io.cloudbridge.api.policy;

import java.util.List;

/**
 * Why a policy lets a source reach a destination, or does not.
 *
 * @param accepted whether the flow may open
 * @param decidedBy the rule that decided it ({@link FilterRule#label()} form), or "no rule matched:
 *                  default deny"
 * @param steps     each rule before it and why it did not match, then the deciding one
 */
public record Explanation(boolean accepted, String decidedBy, List<String> steps) {
    public Explanation {
        steps = List.copyOf(steps);
    }
}
