package io.cloudbridge.api.mesh;

import io.cloudbridge.api.net.NodeKey;
import java.util.Optional;
import org.osgi.annotation.versioning.ProviderType;

/**
 * Direct paths found by hole punching. The path manager asks it for each packet: a confirmed
 * direct path carries the peer's packets, and when it stops answering it is withdrawn and the
 * peer's packets go through the relay again.
 */
@ProviderType
public interface NatTraversal {

    /** The confirmed direct path to {@code peer}: the candidate pair ICE selected, on the overlay's own socket. */
    Optional<PeerPath> directPath(NodeKey peer);

    /**
     * What hole punching knows of {@code peer}: for a direct path its pair and RTT; otherwise why
     * there is none (still checking, no pair succeeded, UDP blocked, the peer does not take part).
     */
    Optional<PathInfo> info(NodeKey peer);
}
