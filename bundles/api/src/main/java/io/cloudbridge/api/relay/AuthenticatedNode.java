package io.cloudbridge.api.relay;

import io.cloudbridge.api.net.NodeKey;
import java.util.Objects;

/**
 * A node whose token the relay verified for a transport session.
 *
 * @param nodeId the relay's id of the node
 * @param tenant its tenant: packets never leave it
 * @param key    its WireGuard public key, which peers address it by
 */
public record AuthenticatedNode(String nodeId, String tenant, NodeKey key) {
    public AuthenticatedNode {
        Objects.requireNonNull(nodeId, "nodeId");
        Objects.requireNonNull(tenant, "tenant");
        Objects.requireNonNull(key, "key");
    }
}
