package io.cloudbridge.api.runtime;

import java.util.List;

/**
 * A feature as the runtime sees it now.
 *
 * @param name        its name
 * @param description one line
 * @param base        always installed, cannot be uninstalled
 * @param installed   whether it is installed
 * @param active      installed and every bundle active (fragments resolved)
 * @param bundles     its bundle symbolic names
 * @param problems    why it is not active, one reason per bundle; empty when active or not installed
 */
public record FeatureInfo(String name, String description, boolean base, boolean installed, boolean active,
        List<String> bundles, List<String> problems) {

    public FeatureInfo {
        bundles = List.copyOf(bundles);
        problems = List.copyOf(problems);
    }
}
