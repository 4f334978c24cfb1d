package io.cloudbridge.control.relay.internal;

import com.google.protobuf.ByteString;
import io.cloudbridge.api.ipam.AddressAllocator;
import io.cloudbridge.api.ipam.Lease;
import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.api.policy.Member;
import io.cloudbridge.control.v1.Peer;
import io.grpc.Status;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A node's record and lease as a peer in its tenant's network map: what registration and
 * heartbeats put into the map, and what {@link NetworkMaps} loads a tenant's map from.
 */
final class MapPeers {
    private final RelayState state;
    private final AddressAllocator ipam;
    private final String homeRelay;

    MapPeers(RelayState state, AddressAllocator ipam, String homeRelay) {
        this.state = state;
        this.ipam = ipam;
        this.homeRelay = homeRelay;
    }

    List<NetworkMaps.Entry> storedPeers(String tenant) {
        try {
            Map<String, Lease> leases = new HashMap<>();
            for (Lease l : ipam.leases(tenant)) {
                leases.put(l.node().toBase64(), l);
            }
            List<NetworkMaps.Entry> out = new ArrayList<>();
            for (RelayState.Node n : state.nodes(tenant)) {
                out.add(entry(n, leases.get(n.key())));
            }
            return out;
        } catch (SQLException e) {
            throw Status.UNAVAILABLE.withDescription("the relay's database failed; try again").asRuntimeException();
        }
    }

    /**
     * The node as its tenant's map shows it, and as its tenant's policy names it: by the name it got
     * at its first sign-in (unique in the tenant), not by the hostname it reports now.
     */
    NetworkMaps.Entry entry(RelayState.Node n, Lease lease) {
        List<java.net.InetAddress> addresses = lease == null ? List.of() : List.of(lease.ipv4(), lease.ipv6());
        RelayState.Identity who = n.identity();
        return new NetworkMaps.Entry(peer(n, lease), new Member(n.id(), who.name(), who.user(), java.util.Set.copyOf(who.idpGroups()),
                java.util.Set.copyOf(who.tags()), addresses));
    }

    Peer peer(RelayState.Node n, Lease lease) {
        Peer.Builder p = Peer.newBuilder().setNodeId(n.id()).setWireguardPublicKey(ByteString.copyFrom(NodeKey.parse(n.key()).toBytes()))
                .setHostname(n.hostname()).addAllEndpoints(n.endpoints()).setHomeRelay(homeRelay);
        if (lease != null) {
            p.addOverlayAddresses(addr(lease.ipv4()) + "/32").addOverlayAddresses(addr(lease.ipv6()) + "/128");
        }
        return p.build();
    }

    /** An address as people write it (RFC 5952 for IPv6: fd12::7, not fd12:0:0:0:0:0:0:7). */
    static String addr(java.net.InetAddress a) {
        return com.google.common.net.InetAddresses.toAddrString(a);
    }
}
