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

    /** The session changed state; {@code reason} says why when it is not obvious, else is empty. */
    void onStateChanged(PacketSession session, TransportState state, String reason);
}
