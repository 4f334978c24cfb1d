package io.cloudbridge.api.transport;

import io.cloudbridge.api.net.NodeKey;
import java.nio.ByteBuffer;
import org.osgi.annotation.versioning.ProviderType;

/** An open session from this node to a relay, carrying encrypted overlay packets both ways. */
@ProviderType
public interface PacketSession extends AutoCloseable {

    /** The transport that opened it, e.g. {@code quic}. */
    String transportName();

    RelayEndpoint relay();

    TransportState state();

    TransportCounters counters();

    /**
     * The largest overlay packet this session carries in one unit (one QUIC datagram, one
     * WebSocket frame), as the path allows now. The overlay MTU derives from it.
     */
    int maxPacketSize();

    /**
     * Queues an encrypted packet for {@code destination}. Never blocks: returns {@code false} and
     * counts a drop when the session is not connected, the packet is too large, or the queue is full.
     */
    boolean send(NodeKey destination, ByteBuffer packet);

    /** The last round trip measured to the relay (a keepalive answered), if any. */
    default java.util.Optional<java.time.Duration> rtt() {
        return java.util.Optional.empty();
    }

    /** Closes the session; idempotent. */
    @Override
    void close();
}
