package io.cloudbridge.wireguard.internal.component;

import io.cloudbridge.api.path.PeerPaths;
import io.cloudbridge.api.net.IpPrefix;
import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.wireguard.internal.device.Peer;
import java.net.InetAddress;
import java.util.List;

/** The path a peer's packets take, in words, for {@code wg:show} and {@code cb:ping}. */
final class PathDescriptions {
    private PathDescriptions() {
    }

    /** The path a peer's packets take now: the paths' answer, else the socket to its endpoint. */
    static String pathOf(PeerPaths pm, Peer peer) {
        if (pm == null) {
            return "none (no paths installed)";
        }
        return pm.info(NodeKey.of(peer.publicKey())).map(info -> info.kind().name().toLowerCase(java.util.Locale.ROOT)
                + info.rtt().map(r -> ", rtt " + r.toMillis() + " ms").orElse("")
                + info.relayedReason().map(r -> ", relayed because " + r).orElse("")).orElse("direct (UDP)");
    }

    /** The path towards an overlay address: that of the peer whose allowed IPs hold it. */
    static String pathTo(PeerPaths pm, List<Peer> peers, InetAddress target) {
        for (Peer p : peers) {
            for (IpPrefix prefix : p.allowedIps()) {
                if (prefix.contains(target)) {
                    return pathOf(pm, p);
                }
            }
        }
        return "none";
    }
}
