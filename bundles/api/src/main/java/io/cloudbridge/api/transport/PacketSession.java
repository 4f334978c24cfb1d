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
     * Whether {@link #maxPacketSize()} is what the path carries for good, rather than a first
     * cautious value while the session is still finding out (QUIC's path MTU discovery starts at
     * 1,200 bytes and searches up for a second or two after connecting). The node moves its peers
     * onto a session that is not settled only when it has no other path, and does not size its
     * overlay MTU from it.
     */
    default boolean packetSizeSettled() {
        return true;
    }

    /**
     * Whether the relay has said this session will end soon (its transport is being removed from
     * the relay): the node moves its peers to another transport before it does, and does not take
     * this one again until it has connected anew.
     */
    default boolean goingAway() {
        return false;
    }

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
