package io.cloudbridge.api.tunnel;

import java.nio.ByteBuffer;
import org.osgi.annotation.versioning.ConsumerType;
import org.osgi.annotation.versioning.ProviderType;

/** One CONNECT-UDP tunnel whose payloads its owner sends and takes itself (no local listener). */
@ProviderType
public interface DatagramTunnel extends AutoCloseable {

    /** Sends one UDP payload to the target (copied; the buffer's position is left alone); {@code false} when it could not go. */
    boolean send(ByteBuffer payload);

    /** Ends the tunnel; the receiver hears {@link Receiver#ended}. */
    @Override
    void close();

    /** What takes the target's payloads, on the tunnel's own thread. */
    @ConsumerType
    interface Receiver {
        /** One UDP payload from the target; valid during the call only. */
        void received(ByteBuffer payload);

        /** The tunnel ended (closed here, by the proxy, or its connection was lost). */
        void ended(String why);
    }
}
