package io.cloudbridge.api.path;

import io.cloudbridge.api.mesh.PathKind;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.Set;
import org.osgi.annotation.versioning.ProviderType;

/** What an attached {@link DirectPaths} finder has of the paths: the overlay's socket, the engine, the node's addresses. */
@ProviderType
public interface DirectPathSocket extends AutoCloseable {

    /** The overlay socket's local address, or {@code null} while no engine has bound it. */
    InetSocketAddress localAddress();

    /**
     * Sends a datagram that is not WireGuard's (a STUN check or answer) from the overlay socket's
     * 5-tuple; {@code false} when it could not go (no socket now, its buffer full).
     */
    boolean send(InetSocketAddress to, ByteBuffer datagram);

    /** A WireGuard message that came through the finder's own relayed candidate (TURN, MASQUE): to the engine. */
    void deliver(ByteBuffer message, PathKind via);

    /**
     * The node's own addresses as the paths' one watch on the network last saw them: interfaces
     * that are up, without loopback, link-local addresses and the overlay's own interface.
     */
    Set<InetAddress> localAddresses();

    /** Detaches the finder. */
    @Override
    void close();
}
