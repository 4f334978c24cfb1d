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

    /** What is known of the path to {@code peer}. */
    Optional<PathInfo> info(NodeKey peer);
}
