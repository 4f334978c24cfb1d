package io.cloudbridge.api.overlay;

import io.cloudbridge.api.net.IpPrefix;
import io.cloudbridge.api.net.NodeKey;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * A peer of the overlay as the control plane names it.
 *
 * @param key        its WireGuard public key
 * @param allowedIps the overlay addresses it speaks for (cryptokey routing)
 * @param endpoint   a UDP endpoint to try directly, when one is known
 */
public record OverlayPeer(NodeKey key, List<IpPrefix> allowedIps, Optional<InetSocketAddress> endpoint) {
    public OverlayPeer {
        Objects.requireNonNull(key, "key");
        allowedIps = List.copyOf(allowedIps);
        Objects.requireNonNull(endpoint, "endpoint");
    }
}
