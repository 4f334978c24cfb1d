package io.cloudbridge.api.relay;

import io.cloudbridge.api.net.NodeKey;
import java.nio.ByteBuffer;
import org.osgi.annotation.versioning.ProviderType;

/** A session's place in the {@link PacketSwitch}. */
@ProviderType
public interface SwitchPort extends AutoCloseable {

    AuthenticatedNode node();

    /**
     * Forwards one encrypted packet to {@code destination} in this node's tenant. Never blocks;
     * the buffer is the caller's again when the call returns.
     */
    ForwardResult forward(NodeKey destination, ByteBuffer packet);

    /** Whether the switch still holds this port (not replaced, disconnected or closed). */
    boolean isOpen();

    /** Detaches the port; idempotent. The sink is not called. */
    @Override
    void close();
}
