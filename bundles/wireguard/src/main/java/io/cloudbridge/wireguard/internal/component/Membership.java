package io.cloudbridge.wireguard.internal.component;

import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.api.overlay.OverlayAddress;
import io.cloudbridge.api.overlay.OverlayPeer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The interface's addresses and peers: the {@code wireguard} section's, then the control plane's.
 * Synchronized: the control plane hands in its part on its own thread, while the component may be
 * activating on another.
 */
final class Membership {
    /** The control plane's part of the membership (its address, the network map's peers), beside the section's. */
    private List<OverlayAddress> controlAddresses = List.of();
    private List<PeerSpec> controlPeers = List.of();

    /** Takes the control plane's part. */
    synchronized void controlPlane(List<OverlayAddress> nodeAddresses, List<OverlayPeer> peers) {
        List<PeerSpec> specs = new ArrayList<>();
        for (OverlayPeer p : peers) {
            // A keepalive every 25 s keeps the relay's and any NAT's state of the path warm.
            specs.add(new PeerSpec(p.key(), p.endpoint().orElse(null), p.allowedIps(), Duration.ofSeconds(25)));
        }
        controlAddresses = List.copyOf(nodeAddresses);
        controlPeers = List.copyOf(specs);
    }

    /** The section's addresses, then the control plane's. */
    synchronized List<String> addresses(WireGuardConfig c) {
        List<String> out = new ArrayList<>(List.of(c.addresses()));
        for (OverlayAddress a : controlAddresses) {
            if (!out.contains(a.toString())) {
                out.add(a.toString());
            }
        }
        return out;
    }

    /** The section's peers, then the control plane's (the section wins for a key named in both). */
    synchronized List<PeerSpec> peers(WireGuardConfig c) {
        List<PeerSpec> out = new ArrayList<>();
        java.util.Set<NodeKey> configured = new java.util.HashSet<>();
        for (String entry : c.peers()) {
            PeerSpec spec = PeerSpec.parse(entry);
            out.add(spec);
            configured.add(spec.publicKey());
        }
        for (PeerSpec p : controlPeers) {
            if (!configured.contains(p.publicKey())) { // a peer configured by hand wins over the map's
                out.add(p);
            }
        }
        return out;
    }
}
