package io.cloudbridge.api.policy;

import org.osgi.annotation.versioning.ProviderType;

/**
 * The node's stateful filter on the overlay's packets, which the WireGuard engine asks about every
 * decrypted packet before it reaches the TUN device, and tells about every packet it sends, so that
 * replies to flows this node opened come back. It fails closed: until it holds a filter (from the
 * network map, or kept from an earlier run), it lets nothing in that this node did not ask for.
 * Both methods are called on the data path's threads, concurrently, and must be quick.
 */
@ProviderType
public interface PacketFilter {

    /** Whether a decrypted packet from the overlay may go on to this node; a refusal is counted and logged once per flow. */
    boolean admitInbound(byte[] packet, int offset, int length);

    /**
     * A packet this node sends into the overlay: its flow's replies will be let in. False when the
     * packet belongs to a flow the policy stopped (a server still answering a peer the policy no
     * longer lets in): it is not to be sent.
     */
    boolean noteOutbound(byte[] packet, int offset, int length);
}
