package io.cloudbridge.control.node.internal;

import io.cloudbridge.api.net.IpPrefix;
import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.api.overlay.OverlayAddress;
import io.cloudbridge.control.v1.NetworkMapUpdate;
import io.cloudbridge.control.v1.Peer;
import io.cloudbridge.control.v1.RegisterResponse;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;

/**
 * The tenant's network map as this node holds it: the relay's full maps and deltas applied in
 * the order they come, and the version reached, which a reopened stream asks to continue from.
 * Read from any thread (the peer directory, signalling, the commands), so kept in a concurrent map.
 */
final class NetworkMap {
    private static final Logger LOG = ControlSession.LOG;

    private final Map<String, Peer> peers = new ConcurrentHashMap<>();
    private volatile long mapVersion;
    /** The filter the relay sent last for this node's addresses; null before the first map. */
    private volatile io.cloudbridge.api.policy.NodeFilter filter;
    /** The filter held is the "no policy" assumed for a relay that sends none, not one a relay sent. */
    private volatile boolean filterAssumed;

    /**
     * Takes one update of the map stream: a whole map replaces what was held, a delta changes one
     * node; a filter, whole or on its own, replaces the one held.
     *
     * @return whether the update changed the filter
     */
    boolean apply(NetworkMapUpdate u) {
        boolean filterChanged = false;
        if (u.hasFilter()) {
            filter = FilterMessages.fromMessage(u.getFilter());
            filterAssumed = false;
            filterChanged = true;
        } else if (u.getChangeCase() == NetworkMapUpdate.ChangeCase.FULL && filter == null) {
            // A relay that sends no filter has no policies: everything is let in.
            filter = io.cloudbridge.api.policy.NodeFilter.OPEN;
            filterAssumed = true;
            filterChanged = true;
        }
        applyChange(u);
        return filterChanged;
    }

    /** Whether {@link #filter} is assumed (the relay sent none), not sent. */
    boolean filterAssumed() {
        return filterAssumed;
    }

    /** The filter the relay sent last; null before the first map. */
    io.cloudbridge.api.policy.NodeFilter filter() {
        return filter;
    }

    private void applyChange(NetworkMapUpdate u) {
        switch (u.getChangeCase()) {
            case FULL -> {
                peers.clear();
                u.getFull().getPeersList().forEach(p -> peers.put(p.getNodeId(), p));
            }
            case UPSERT -> peers.put(u.getUpsert().getNodeId(), u.getUpsert());
            case REMOVED -> peers.remove(u.getRemoved().getNodeId());
            case CHANGE_NOT_SET -> {
                // a filter alone
            }
            default -> LOG.debug("a map update of a kind this node does not know: ignored");
        }
        mapVersion = u.getVersion();
    }

    long version() {
        return mapVersion;
    }

    int size() {
        return peers.size();
    }

    Peer byNodeId(String nodeId) {
        return peers.get(nodeId);
    }

    /** The map's entries as they are now (a live view), this node's own among them. */
    Collection<Peer> entries() {
        return peers.values();
    }

    /** The node id the map gives a WireGuard key; null when the key is not in the map. */
    String nodeIdOf(NodeKey to) {
        String nodeId = null;
        for (Peer p : peers.values()) {
            if (Arrays.equals(p.getWireguardPublicKey().toByteArray(), to.toBytes())) {
                nodeId = p.getNodeId();
                break;
            }
        }
        return nodeId;
    }

    /** The other nodes of the map, as the peer directory gives them: this node itself and unusable keys left out. */
    Collection<io.cloudbridge.api.mesh.Peer> meshPeers(RegisterResponse r) {
        List<io.cloudbridge.api.mesh.Peer> out = new ArrayList<>();
        for (Peer p : peers.values()) {
            if ((r == null || !p.getNodeId().equals(r.getNodeId())) && p.getWireguardPublicKey().size() == 32) {
                out.add(toMeshPeer(p));
            }
        }
        return out;
    }

    static io.cloudbridge.api.mesh.Peer toMeshPeer(Peer p) {
        List<IpPrefix> allowed = new ArrayList<>();
        for (String a : p.getOverlayAddressesList()) {
            try {
                OverlayAddress addr = OverlayAddress.parse(a);
                allowed.add(new IpPrefix(addr.address(), addr.address().getAddress().length * 8));
            } catch (IllegalArgumentException e) {
                LOG.debug("peer {} has an address this node cannot read: {}", p.getNodeId(), a);
            }
        }
        return new io.cloudbridge.api.mesh.Peer(NodeKey.of(p.getWireguardPublicKey().toByteArray()),
                p.getHostname(), allowed, List.of());
    }
}
