package io.cloudbridge.api.policy;

import org.osgi.annotation.versioning.ProviderType;

/**
 * Where the node's control plane puts the filter its network map carries. The filter in force is
 * kept across restarts, so that a node whose control plane is unreachable still enforces it.
 */
@ProviderType
public interface NodeFilters {

    /**
     * Puts {@code filter} in force: flows it no longer allows stop now (their state is dropped),
     * and no tunnel restarts.
     */
    void install(NodeFilter filter);

    /** The filter in force; null until the node has had one. */
    NodeFilter installed();
}
