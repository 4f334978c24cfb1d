package io.cloudbridge.api.runtime;

import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * The state of the configuration bridge.
 *
 * @param file            the YAML file it watches
 * @param accepted        configurations applied since start
 * @param rejected        configurations refused since start
 * @param lastApplied     when the configuration in force was applied, if ever
 * @param lastRejection   why the latest refused configuration was refused, if any was refused
 *                        after the last one applied
 * @param pendingSections sections kept for features that are not installed
 */
public record ConfigStatus(String file, long accepted, long rejected, Optional<Instant> lastApplied,
        Optional<String> lastRejection, List<String> pendingSections) {

    public ConfigStatus {
        pendingSections = List.copyOf(pendingSections);
    }
}
