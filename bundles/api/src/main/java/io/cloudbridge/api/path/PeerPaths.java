package io.cloudbridge.api.path;

import io.cloudbridge.api.mesh.PathInfo;
import io.cloudbridge.api.net.NodeKey;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.Optional;
import java.util.OptionalInt;
import org.osgi.annotation.versioning.ProviderType;

/**
 * A node's ways to its peers, behind one {@link PathBinding}: the overlay's UDP socket, the relay
 * sessions over the transport plugins, and the direct paths that hole punching
 * ({@link DirectPaths}) attaches. The overlay's WireGuard engine binds it; the commands ask it
 * what they show.
 */
@ProviderType
public interface PeerPaths {

    /**
     * Opens the overlay's UDP socket on {@code listen} and returns the binding the engine sends
     * and receives through. One binding at a time: a new one replaces (and closes) the last.
     *
     * @param overlayInterface the overlay's own interface, whose addresses are never a way out
     * @throws IOException when the socket cannot be bound
     */
    PathBinding bind(InetSocketAddress listen, String overlayInterface) throws IOException;

    /**
     * Attaches a finder of direct paths (hole punching): it gets the datagrams of the overlay's
     * socket that are not WireGuard's, and its confirmed paths carry their peers' messages ahead
     * of the relay. Closing the returned socket detaches it.
     */
    DirectPathSocket attach(DirectPaths finder);

    /** What is known of the path to {@code peer}. */
    Optional<PathInfo> info(NodeKey peer);

    /**
     * The largest WireGuard message the relay paths carry, as far as they have told: the overlay's
     * MTU leaves room for it. It follows what each transport last carried and is the smallest of
     * them, so the MTU does not swing with each move between transports. Empty while none has said.
     */
    OptionalInt packetLimit();
}
