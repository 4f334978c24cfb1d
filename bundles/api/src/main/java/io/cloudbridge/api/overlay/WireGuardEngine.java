package io.cloudbridge.api.overlay;

import io.cloudbridge.api.net.NodeKey;
import java.nio.ByteBuffer;
import java.util.List;
import org.osgi.annotation.versioning.ConsumerType;
import org.osgi.annotation.versioning.ProviderType;

/**
 * A userspace WireGuard engine without a device or socket of its own: its owner hands it IP
 * packets to send and encrypted packets that arrived, and it hands back encrypted packets to
 * transmit and decrypted IP packets. For a part of the daemon that is itself a peer of an overlay,
 * such as the relay's CONNECT-IP gateway.
 */
@ProviderType
public interface WireGuardEngine extends AutoCloseable {

    NodeKey publicKey();

    /** Replaces the peers: each with the overlay addresses it may send from and that are routed to it. */
    void setPeers(List<OverlayPeer> peers);

    /** An encrypted WireGuard message that arrived from a peer; any thread; the buffer is the caller's again afterwards. */
    void receiveEncrypted(ByteBuffer message);

    /**
     * An encrypted WireGuard message that a relay forwarded from {@code sender}, the node it
     * authenticated; any thread, which never waits for handshake work: handshakes are budgeted
     * per sender and their Diffie-Hellman work is done on the engine's own thread.
     * The buffer is the caller's again afterwards.
     *
     * @since 1.5
     */
    void receiveEncrypted(NodeKey sender, ByteBuffer message);

    /**
     * Sends an IP packet to the peer whose allowed IPs hold its destination (handshaking first if
     * need be); {@code false} when no peer's allowed IPs hold it or it could not go.
     */
    boolean send(ByteBuffer ipPacket);

    /**
     * What the engine refused, by reason (relayed handshakes shed over a sender's budget, cookie
     * replies sent under load, bad MACs, ...): for its owner's commands.
     *
     * @since 1.5
     */
    java.util.Map<String, Long> drops();

    /** Stops the engine's timers and forgets its sessions. */
    @Override
    void close();

    /** Where the engine's encrypted messages go: toward the peer, by whatever path the owner has. */
    @ConsumerType
    interface Transmitter {
        /** Never blocks; the buffer is the engine's again when the call returns. */
        boolean transmit(NodeKey peer, ByteBuffer message);
    }

    /** Where decrypted IP packets go, with the peer that sent them (its allowed IPs hold their source). */
    @ConsumerType
    interface Receiver {
        /** The buffer is valid during the call only. */
        void received(NodeKey peer, ByteBuffer ipPacket);
    }
}
