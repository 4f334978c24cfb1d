package io.cloudbridge.control.relay.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.api.ipam.Lease;
import io.cloudbridge.api.net.IpPrefix;
import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.api.relay.OverlayMembers;
import io.cloudbridge.control.v1.ControlServiceGrpc;
import io.cloudbridge.control.v1.NetworkMapUpdate;
import io.cloudbridge.control.v1.Peer;
import io.cloudbridge.control.v1.RegisterResponse;
import io.cloudbridge.control.v1.WatchNetworkMapRequest;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.Base64;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The relay's CONNECT-IP gateway is a member of its tenant's overlay with a WireGuard key, a lease
 * and no node record. Its key is in every peer's map, so a member of the tenant learns it; the
 * relay must keep that key the gateway's across restarts, while the gateway is closed and before
 * it rejoins (issue 23, item 8).
 */
class GatewayKeyTest {
    private RelayFixture relay;
    private ManagedChannel channel;

    @BeforeEach
    void start() throws Exception {
        relay = new RelayFixture();
        channel = relay.channel();
    }

    @AfterEach
    void stop() throws Exception {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        relay.close();
    }

    /** The relay's members as the masque bundle gets them (the relay's OverlayMembers service). */
    private OverlayMembers members() {
        return new RelayMembers(relay.relay.service().maps(), relay.relay.state(), relay.durability, "relay.test");
    }

    /** The gateway's start, as TenantGateways makes it: its lease from IPAM, then its place in the map. */
    private OverlayMembers.Membership gatewayJoins(String tenant, NodeKey key, Lease lease) {
        return members().join(tenant, key, "relay-gateway", List.of(new IpPrefix(lease.ipv4(), 32), new IpPrefix(lease.ipv6(), 128)),
                peers -> { });
    }

    @Test
    void aMemberCannotRegisterTheGatewaysKeyAfterARestartBeforeTheGatewayRejoins() throws Exception {
        String tenant = "squat";
        String preAuth = relay.preAuthKey(tenant, true);
        byte[][] mallory = RelayFixture.keyPair();
        RegisterResponse malloryNode = RelayFixture.register(channel, preAuth, mallory[1], "mallory");

        // The gateway comes up at the tenant's first CONNECT-IP session: a lease, then the map.
        NodeKey gatewayKey = NodeKey.of(RelayFixture.keyPair()[1]);
        Lease gatewayLease = relay.ipam.allocate(tenant, gatewayKey);
        OverlayMembers.Membership gateway = gatewayJoins(tenant, gatewayKey, gatewayLease);

        // 1. Mallory, a member of the tenant, reads the gateway's key from her map.
        Iterator<NetworkMapUpdate> map = ControlServiceGrpc.newBlockingStub(channel)
                .withCallCredentials(RelayFixture.bearer(malloryNode.getToken().getJwt())).withDeadlineAfter(10, TimeUnit.SECONDS)
                .watchNetworkMap(WatchNetworkMapRequest.getDefaultInstance());
        Peer seen = map.next().getFull().getPeersList().stream().filter(p -> p.getHostname().equals("relay-gateway")).findFirst()
                .orElseThrow();
        byte[] stolen = seen.getWireguardPublicKey().toByteArray();
        assertEquals(gatewayKey, NodeKey.of(stolen));

        // 2. The gateway closes (its sessions ended, or the relay stops); it keeps its lease.
        gateway.close();
        // 3. The relay restarts: nothing in memory says whose the key is.
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        relay.restart();
        channel = relay.channel();

        // 4. Before the gateway rejoins, Mallory registers the gateway's key with the tenant's pre-auth key...
        StatusRuntimeException squat = assertThrows(StatusRuntimeException.class,
                () -> RelayFixture.register(channel, preAuth, stolen, "relay-gateway"));
        assertEquals(Status.Code.PERMISSION_DENIED, squat.getStatus().getCode(), String.valueOf(squat.getStatus()));
        assertTrue(squat.getStatus().getDescription().contains("CONNECT-IP gateway"), squat.getStatus().getDescription());
        // ... or rotates her own node onto it, with a good proof of her own key.
        long now = java.time.Instant.now().getEpochSecond();
        StatusRuntimeException rotation = assertThrows(StatusRuntimeException.class, () -> RelayFixture.rotate(channel,
                malloryNode.getToken().getJwt(), stolen, "mallory", RelayFixture.proof(mallory[0],
                        malloryNode.getRelayKey().toByteArray(), malloryNode.getNodeId(), mallory[1], stolen, now)));
        assertEquals(Status.Code.PERMISSION_DENIED, rotation.getStatus().getCode(), String.valueOf(rotation.getStatus()));

        // 5. The gateway's lease is still its own, and no node holds its key.
        assertEquals(gatewayLease.ipv4(), relay.ipam.lease(tenant, gatewayKey).orElseThrow().ipv4());
        assertTrue(relay.relay.state().nodes(tenant).stream().noneMatch(n -> n.key().equals(Base64.getEncoder().encodeToString(stolen))),
                "no node record with the gateway's key");
        assertEquals(1, relay.relay.state().nodes(tenant).size(), "only Mallory's own node");

        // 6. The gateway rejoins with its key and its addresses.
        Lease again = relay.ipam.allocate(tenant, gatewayKey);
        assertEquals(gatewayLease.ipv4(), again.ipv4());
        try (OverlayMembers.Membership back = gatewayJoins(tenant, gatewayKey, again)) {
            assertEquals(java.util.Optional.of(back.nodeId()), relay.relay.service().maps().holder(tenant, gatewayKey));
        }
    }

    /**
     * A key a registered node holds is not the gateway's to take: the join is refused (a squat
     * from before the reservation existed needs the operator), rather than two peers with one key.
     */
    @Test
    void theGatewayDoesNotJoinUnderAKeyANodeHolds() throws Exception {
        String tenant = "taken";
        byte[] key = RelayFixture.randomKey();
        RelayFixture.register(channel, relay.preAuthKey(tenant, false), key, "early-bird");
        NodeKey nodeKey = NodeKey.of(key);
        Lease lease = relay.ipam.allocate(tenant, nodeKey);
        IllegalStateException refused = assertThrows(IllegalStateException.class, () -> gatewayJoins(tenant, nodeKey, lease));
        assertTrue(refused.getMessage().contains("relay:node delete"), refused.getMessage());
        assertEquals(1, relay.relay.service().maps().holder(tenant, nodeKey).stream().count());
        assertTrue(relay.relay.state().nodes(tenant).stream().anyMatch(n -> n.hostname().equals("early-bird")));
    }
}
