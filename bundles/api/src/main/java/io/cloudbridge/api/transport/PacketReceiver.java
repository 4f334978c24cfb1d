package io.cloudbridge.api.transport;

import io.cloudbridge.api.net.NodeKey;
import java.nio.ByteBuffer;
import org.osgi.annotation.versioning.ConsumerType;

/** What a session delivers to: the node's data path. Called on the transport's I/O thread: never block. */
@ConsumerType
public interface PacketReceiver {

    /**
     * An encrypted overlay packet that the relay forwarded from {@code source}. The buffer is
     * valid only for the duration of the call.
     */
    void onPacket(NodeKey source, ByteBuffer packet);

    /**
     * A packet of a burst that arrived together (one read from the relay's connection): as
     * {@link #onPacket}, but the receiver may hold on to what it made of it (decrypted packets for
     * the TUN device, to be joined and written together) until {@link #onBurstEnd}, which the
     * session calls on the same thread once the burst is delivered.
     */
    default void onPacketInBurst(NodeKey source, ByteBuffer packet) {
        onPacket(source, packet);
    }

    /** The burst this thread delivered with {@link #onPacketInBurst} is complete: let go of anything held. */
    default void onBurstEnd() {
    }

    /** The session changed state; {@code reason} says why when it is not obvious, else is empty. */
    void onStateChanged(PacketSession session, TransportState state, String reason);
}
