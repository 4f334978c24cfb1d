package io.cloudbridge.control.node.internal;

import io.cloudbridge.api.overlay.OverlayAddress;
import io.cloudbridge.api.overlay.OverlayPeer;
import io.cloudbridge.api.overlay.OverlayPeers;
import io.cloudbridge.control.v1.Peer;
import io.cloudbridge.control.v1.RegisterResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;

/**
 * Brings the overlay in line with the registration (this node's own addresses) and the network
 * map (its peers). A map arrives as a burst of deltas: the overlay is told once for the burst,
 * shortly after it starts, not once for each delta.
 */
final class OverlaySync {
    private static final Logger LOG = ControlSession.LOG;

    private final ControlSession session;
    private final NetworkMap map;
    private final AtomicBoolean overlayUpdateQueued = new AtomicBoolean();

    OverlaySync(ControlSession session, NetworkMap map) {
        this.session = session;
        this.map = map;
    }

    /** Brings the overlay in line with the registration and the map, once for a burst of map changes. */
    void queue() {
        if (overlayUpdateQueued.compareAndSet(false, true)) {
            session.scheduler.schedule(() -> {
                overlayUpdateQueued.set(false);
                applyOverlay();
            }, 50, TimeUnit.MILLISECONDS);
        }
    }

    private void applyOverlay() {
        OverlayPeers o = session.overlayPeers;
        RegisterResponse r = session.registration;
        if (o == null || r == null) {
            return;
        }
        String self = r.getNodeId();
        List<OverlayPeer> wanted = new ArrayList<>();
        for (Peer p : map.entries()) {
            if (p.getNodeId().equals(self) || p.getWireguardPublicKey().size() != 32) {
                continue;
            }
            io.cloudbridge.api.mesh.Peer peer = NetworkMap.toMeshPeer(p);
            wanted.add(new OverlayPeer(peer.key(), peer.allowedIps(), Optional.empty()));
        }
        try {
            o.apply(List.of(OverlayAddress.parse(r.getIpv4Address()), OverlayAddress.parse(r.getIpv6Address())), wanted);
        } catch (RuntimeException e) {
            LOG.warn("the overlay did not take the network map: {}", e.toString());
        }
    }
}
