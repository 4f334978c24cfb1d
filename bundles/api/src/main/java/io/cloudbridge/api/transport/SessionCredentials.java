package io.cloudbridge.api.transport;

import io.cloudbridge.api.net.NodeKey;
import java.util.function.Supplier;

/**
 * How a session proves who the node is.
 *
 * @param nodeKey the node's WireGuard public key, which the relay routes by
 * @param token   the node's current access token, read at each (re)connect so rotation is seen
 */
public record SessionCredentials(NodeKey nodeKey, Supplier<String> token) {

    @Override
    public String toString() {
        return "SessionCredentials[nodeKey=" + nodeKey + ", token=***]";
    }
}
