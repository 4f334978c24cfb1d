package io.cloudbridge.boot.feature;

import java.util.List;

/**
 * A named set of bundles.
 *
 * @param name        the file name without {@code .yaml}
 * @param description one line for {@code feature:list}
 * @param base        a base feature holds the kernel itself or native libraries: it is always
 *                    installed and cannot be uninstalled, so that swapping a plugin never reloads it
 * @param requires    features that must be installed with this one
 * @param bundles     bundle symbolic names, in start order
 * @param platforms   the platforms ({@link Platform}) the feature runs on, where it needs a native
 *                    library the distribution carries for those only; empty: every platform
 */
public record FeatureDefinition(String name, String description, boolean base, List<String> requires,
        List<String> bundles, List<String> platforms) {

    public FeatureDefinition {
        requires = List.copyOf(requires);
        bundles = List.copyOf(bundles);
        platforms = List.copyOf(platforms);
    }

    /** Whether the feature runs on {@code platform}. */
    public boolean runsOn(String platform) {
        return platforms.isEmpty() || platforms.contains(platform);
    }
}
