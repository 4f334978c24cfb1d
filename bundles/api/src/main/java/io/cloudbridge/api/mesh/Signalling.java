package io.cloudbridge.api.mesh;

import io.cloudbridge.api.net.NodeKey;
import org.osgi.annotation.versioning.ProviderType;

/**
 * Messages to another node of this node's tenant, through the control plane (the relay forwards
 * them untouched): NAT traversal sends its offers and candidates this way. Delivery is best effort,
 * in order per peer while the stream lasts; a sender that needs an answer retries.
 */
@ProviderType
public interface Signalling {

    /** The largest payload the relay forwards. */
    int MAX_PAYLOAD = 16 * 1024;

    /**
     * Sends one message; {@code false} when it cannot go now (not registered, the peer is not in
     * the network map, the stream is down or the payload is too large).
     *
     * @param type    what the payload is, e.g. {@code ice.offer}; at most 64 characters
     * @param version the version of the payload's format, so that receivers can refuse what they cannot read
     */
    boolean send(NodeKey to, String type, int version, byte[] payload);

    /**
     * Lets {@code listener} hear every message other nodes send this one, until
     * {@link #removeListener}. A listener adds itself (it is not a whiteboard service): it usually
     * also needs this service, and two components that each wait for the other's service is the
     * cycle DS cannot resolve.
     */
    void addListener(SignalListener listener);

    void removeListener(SignalListener listener);
}
