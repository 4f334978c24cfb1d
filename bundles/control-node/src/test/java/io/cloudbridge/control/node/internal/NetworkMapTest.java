package io.cloudbridge.control.node.internal;

import static io.cloudbridge.control.node.internal.ControlTestKit.key;
import static io.cloudbridge.control.node.internal.ControlTestKit.peer;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.cloudbridge.api.net.IpPrefix;
import io.cloudbridge.control.v1.FullMap;
import io.cloudbridge.control.v1.NetworkMapUpdate;
import io.cloudbridge.control.v1.Peer;
import io.cloudbridge.control.v1.PeerRemoved;
import java.net.InetAddress;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** The map as the node holds it: whole maps and deltas applied in order, and the views the node's services give of it. */
class NetworkMapTest {
    private final NetworkMap map = new NetworkMap();

    @Test
    void aWholeMapReplacesWhatWasHeldAndDeltasChangeOneNodeEach() {
        map.apply(full(1, peer("a", key(1), "alpha"), peer("b", key(2), "beta")));
        assertEquals(Map.of("a", "alpha", "b", "beta"), hostnames());
        assertEquals(1, map.version());

        map.apply(NetworkMapUpdate.newBuilder().setVersion(2).setUpsert(peer("c", key(3), "gamma")).build());
        map.apply(NetworkMapUpdate.newBuilder().setVersion(3).setUpsert(peer("a", key(1), "alpha-renamed")).build());
        map.apply(NetworkMapUpdate.newBuilder().setVersion(4).setRemoved(PeerRemoved.newBuilder().setNodeId("b")).build());
        assertEquals(Map.of("a", "alpha-renamed", "c", "gamma"), hostnames());
        assertEquals(4, map.version(), "a reopened stream continues from here");

        map.apply(full(5, peer("d", key(4), "delta")));
        assertEquals(Map.of("d", "delta"), hostnames(), "nodes gone from a whole map are gone");
        assertEquals(1, map.size());
    }

    @Test
    void anUpdateOfAKindNotKnownChangesNoNodeButItsVersionCounts() {
        map.apply(full(7, peer("a", key(1), "alpha")));
        map.apply(NetworkMapUpdate.newBuilder().setVersion(8).build());
        assertEquals(Map.of("a", "alpha"), hostnames());
        assertEquals(8, map.version());
    }

    @Test
    void thePeerDirectoryLeavesOutThisNodeAndKeysItCannotUse() throws Exception {
        map.apply(full(1, peer("self", key(1), "me", "100.64.0.1/10"),
                peer("b", key(2), "beta", "100.64.0.2/10", "fd7a:115c:a1e0::2/48", "100.64.0.9/xx"),
                peer("broken", null, "short-key", "100.64.0.3/10")));

        List<io.cloudbridge.api.mesh.Peer> others = List.copyOf(map.meshPeers(ControlTestKit.registered("self")));
        assertEquals(1, others.size());
        io.cloudbridge.api.mesh.Peer beta = others.get(0);
        assertEquals(key(2), beta.key());
        assertEquals("beta", beta.name());
        assertEquals(List.of(new IpPrefix(InetAddress.getByName("100.64.0.2"), 32), new IpPrefix(InetAddress.getByName("fd7a:115c:a1e0::2"), 128)),
                beta.allowedIps(), "each overlay address is one host; an unreadable one is skipped");

        assertEquals(2, map.meshPeers(null).size(), "before registration no entry is known to be this node");
    }

    @Test
    void aKeyIsAddressedByTheNodeIdTheMapGivesIt() {
        map.apply(full(1, peer("a", key(1), "alpha"), peer("b", key(2), "beta")));
        assertEquals("b", map.nodeIdOf(key(2)));
        assertNull(map.nodeIdOf(key(9)), "not in the map: nowhere to send");
        assertEquals("alpha", map.byNodeId("a").getHostname());
    }

    private static NetworkMapUpdate full(long version, Peer... peers) {
        return NetworkMapUpdate.newBuilder().setVersion(version).setFull(FullMap.newBuilder().addAllPeers(List.of(peers))).build();
    }

    private Map<String, String> hostnames() {
        return map.entries().stream().collect(Collectors.toMap(Peer::getNodeId, Peer::getHostname));
    }
}
