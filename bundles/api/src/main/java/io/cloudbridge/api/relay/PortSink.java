package io.cloudbridge.api.relay;

import io.cloudbridge.api.net.NodeKey;
import java.nio.ByteBuffer;
import org.osgi.annotation.versioning.ConsumerType;

/** Where the switch hands a port's packets: the transport session's connection. */
@ConsumerType
public interface PortSink {

    /**
     * A packet from {@code source} for this port's node. Never blocks: returns {@code false} when
     * the session cannot take it now (its send buffer is full), and the switch counts the drop.
     * The buffer is valid only during the call.
     */
    boolean deliver(NodeKey source, ByteBuffer packet);

    /**
     * Packets this sink took (deliver returned true) and then dropped before they left (the
     * connection closed or backed up, its protocol stack refusing them), by where they were
     * dropped; only reasons that occurred. The switch counts the
     * packets {@link #deliver} refused; these it cannot see.
     */
    default java.util.Map<String, Long> drops() {
        return java.util.Map.of();
    }

    /** The switch let go of this port (replaced by a newer session, node removed); the session closes with the reason. */
    void closed(String reason);
}
