package io.cloudbridge.api.path;

import io.cloudbridge.api.mesh.PathInfo;
import io.cloudbridge.api.net.NodeKey;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.Optional;
import org.osgi.annotation.versioning.ConsumerType;

/**
 * A finder of direct paths (hole punching, in the ice bundle), attached to {@link PeerPaths}: it
 * shares the overlay's UDP socket, so that its connectivity checks and WireGuard's messages use
 * one 5-tuple, as hole punching needs.
 */
@ConsumerType
public interface DirectPaths {

    /**
     * Whether this datagram of the overlay's socket is the finder's (STUN: RFC 7983, first byte
     * 0-3 and the magic cookie; TURN channel data). Called on the receive thread for datagrams that
     * are not WireGuard's: decide fast. The buffer is valid during the call only.
     */
    boolean claims(ByteBuffer datagram);

    /** A claimed datagram; the buffer is valid during the call only. */
    void receive(InetSocketAddress from, ByteBuffer datagram);

    /** The confirmed direct path to {@code peer}, if there is one now. */
    Optional<DirectPath> pathTo(NodeKey peer);

    /**
     * What the finder knows of {@code peer}: for a direct path its pair and RTT; otherwise why
     * there is none (still checking, no pair succeeded, UDP blocked, the peer does not take part).
     */
    Optional<PathInfo> info(NodeKey peer);
}
