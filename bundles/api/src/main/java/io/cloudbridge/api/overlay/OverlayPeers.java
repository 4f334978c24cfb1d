package io.cloudbridge.api.overlay;

import java.util.List;
import org.osgi.annotation.versioning.ProviderType;

/**
 * The overlay's membership as the control plane sets it, beside what the configuration file
 * names: the node's own addresses (from the relay's address management) and its tenant's peers
 * (from the network map). The overlay engine provides it.
 */
@ProviderType
public interface OverlayPeers {

    /**
     * Makes the overlay's control-plane part exactly this. Peers that stay keep their sessions;
     * a change of the node's own addresses re-creates the interface.
     */
    void apply(List<OverlayAddress> ownAddresses, List<OverlayPeer> peers);

    /** Forgets the control plane's part (the node left, or was removed). */
    default void clear() {
        apply(List.of(), List.of());
    }
}
