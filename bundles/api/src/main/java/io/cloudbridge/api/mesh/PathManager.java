package io.cloudbridge.api.mesh;

import io.cloudbridge.api.net.NodeKey;
import java.util.Optional;
import org.osgi.annotation.versioning.ProviderType;

/**
 * Chooses, per peer, the path its packets take now, and moves a peer between paths without the
 * WireGuard session noticing.
 */
@ProviderType
public interface PathManager {

    /** The path to use for the next packet to {@code peer}; empty when the peer is unreachable now. */
    Optional<PeerPath> pathFor(NodeKey peer);

    /**
     * The largest WireGuard message the paths carry, as far as they have told: the overlay's MTU
     * leaves room for it (a QUIC datagram holds less than a 1,500-byte link). Empty while no path
     * has said. It follows what each kind of path last carried (a QUIC path's discovery of its MTU
     * raises it a few seconds after connecting), and is the smallest of them, so the MTU does not
     * swing with each move between transports.
     */
    default java.util.OptionalInt packetLimit() {
        return java.util.OptionalInt.empty();
    }

    /** What is known of the path to {@code peer}. */
    Optional<PathInfo> info(NodeKey peer);
}
