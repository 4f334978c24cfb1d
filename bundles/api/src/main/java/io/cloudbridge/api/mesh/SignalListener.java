package io.cloudbridge.api.mesh;

import io.cloudbridge.api.net.NodeKey;
import org.osgi.annotation.versioning.ConsumerType;

/**
 * Hears the signalling messages other nodes of the tenant sent this one, once added to
 * {@link Signalling#addListener}. Every listener sees every message and ignores the types it does not know. Called on the signalling
 * stream's thread: hand heavy work elsewhere.
 */
@ConsumerType
public interface SignalListener {

    /** One message; {@code from} is the sender as the relay authenticated it, not as it claims. */
    void onSignal(NodeKey from, String type, int version, byte[] payload);

    /**
     * The signalling stream was opened again (after the relay dropped it, or after the node moved
     * and reconnected): messages sent while it was down, or into the stream that broke, are lost,
     * so a listener waiting for an answer sends again now rather than at its next retry.
     */
    default void signallingConnected() {
    }
}
