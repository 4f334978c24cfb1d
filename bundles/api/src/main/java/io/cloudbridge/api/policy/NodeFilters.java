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

    /**
     * A control plane governs this node's filter (the node belongs to a tenant, which may have a
     * policy): until its first filter arrives, nothing gets in but replies to the node's own flows.
     * A node without one (its peers all from its own configuration) has no policy, and nothing is
     * filtered; a filter kept from an earlier run stays in force either way.
     */
    void expectFromControlPlane();
}
