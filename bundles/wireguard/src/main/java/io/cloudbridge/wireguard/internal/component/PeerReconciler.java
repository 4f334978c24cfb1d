package io.cloudbridge.wireguard.internal.component;

import io.cloudbridge.api.net.IpPrefix;
import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.api.tun.TunDevice;
import io.cloudbridge.wireguard.internal.device.Peer;
import io.cloudbridge.wireguard.internal.device.WireGuardDevice;
import java.io.IOException;
import java.security.InvalidKeyException;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Brings the device's peer table, and the TUN device's routes, to the membership in place: the
 * network map changes often, and re-creating the interface for it would restart every session.
 */
final class PeerReconciler {
    private static final Logger LOG = LoggerFactory.getLogger(PeerReconciler.class);

    private PeerReconciler() {
    }

    /**
     * Adds a peer, or leaves it out (null) when its key is one no handshake can use (a low-order
     * point): one bad key in the network map must not keep this node from every other peer.
     */
    static Peer addPeer(WireGuardDevice device, PeerSpec spec) {
        try {
            return device.addPeer(spec.publicKey().toBytes(), null, spec.allowedIps(), spec.endpoint());
        } catch (InvalidKeyException e) {
            LOG.warn("peer {} left out: {}", spec.publicKey(), e.getMessage());
            return null;
        }
    }

    /**
     * Makes the device's peers exactly {@code wanted}: those that stay keep their sessions.
     *
     * @param tun the TUN device whose routes follow the peers', or {@code null} (userspace)
     */
    static void applyPeers(WireGuardDevice device, TunDevice tun, List<PeerSpec> wanted, String interfaceName)
            throws IOException, InvalidKeyException {
        java.util.Set<NodeKey> keep = new java.util.HashSet<>();
        wanted.forEach(w -> keep.add(w.publicKey()));
        for (Peer p : device.peers()) {
            if (!keep.contains(NodeKey.of(p.publicKey()))) {
                device.removePeer(p.publicKey());
                if (tun != null) {
                    for (IpPrefix r : p.allowedIps()) {
                        try {
                            tun.removeRoute(r);
                        } catch (IOException gone) {
                            LOG.debug("route {} was already gone: {}", r, gone.toString());
                        }
                    }
                }
            }
        }
        for (PeerSpec spec : wanted) {
            Peer peer = device.peer(spec.publicKey().toBytes());
            if (peer == null) {
                peer = addPeer(device, spec);
                if (peer == null) {
                    continue;
                }
            } else {
                device.replaceAllowedIps(peer, spec.allowedIps());
                if (spec.endpoint() != null) {
                    peer.setEndpoint(spec.endpoint());
                }
            }
            peer.setPersistentKeepalive(spec.keepalive());
            if (tun != null) {
                for (IpPrefix r : spec.allowedIps()) {
                    tun.addRoute(r);
                }
            }
        }
        LOG.info("WireGuard peers of {} updated in place: {} peers", interfaceName, wanted.size());
    }
}
