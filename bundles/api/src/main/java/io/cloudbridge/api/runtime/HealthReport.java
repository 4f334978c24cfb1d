package io.cloudbridge.api.runtime;

import java.util.List;

/**
 * Whether the runtime is whole.
 *
 * @param healthy  every installed feature is active
 * @param problems what is not, one line each
 */
public record HealthReport(boolean healthy, List<String> problems) {

    public HealthReport {
        problems = List.copyOf(problems);
    }
}
