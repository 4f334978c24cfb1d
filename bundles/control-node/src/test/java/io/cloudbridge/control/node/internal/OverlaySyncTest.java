package io.cloudbridge.control.node.internal;

import static io.cloudbridge.control.node.internal.ControlTestKit.key;
import static io.cloudbridge.control.node.internal.ControlTestKit.peer;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.api.overlay.OverlayAddress;
import io.cloudbridge.api.overlay.OverlayPeer;
import io.cloudbridge.control.node.internal.ControlTestKit.QueueingScheduler;
import io.cloudbridge.control.node.internal.ControlTestKit.RecordingOverlayPeers;
import io.cloudbridge.control.v1.FullMap;
import io.cloudbridge.control.v1.NetworkMapUpdate;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The overlay told the node's addresses and peers: once for a burst, and only what it can use. */
class OverlaySyncTest {
    @TempDir
    Path state;
    private final QueueingScheduler scheduler = new QueueingScheduler();
    private final NetworkMap map = new NetworkMap();
    private final RecordingOverlayPeers overlay = new RecordingOverlayPeers();
    private ControlSession session;
    private OverlaySync sync;

    @BeforeEach
    void start() {
        session = ControlTestKit.session(state, ControlTestKit.config("relay.example:7443", "node-a", "", 30), scheduler);
        session.registration = ControlTestKit.registered("self");
        session.overlayPeers = overlay;
        map.apply(NetworkMapUpdate.newBuilder().setVersion(1).setFull(FullMap.newBuilder()
                .addPeers(peer("self", key(1), "me", "100.64.0.1/10"))
                .addPeers(peer("b", key(2), "beta", "100.64.0.2/10"))
                .addPeers(peer("broken", null, "short-key", "100.64.0.3/10"))).build());
        sync = new OverlaySync(session, map);
    }

    @AfterEach
    void stop() {
        scheduler.shutdownNow();
    }

    @Test
    void aBurstOfChangesIsOneUpdateOfTheOverlay() {
        for (int i = 0; i < 5; i++) {
            sync.queue();
        }
        assertEquals(50, scheduler.only().delayMillis());
        scheduler.runNext();
        assertEquals(1, overlay.applied.size());

        sync.queue();
        assertEquals(1, scheduler.tasks.size(), "once the update ran, the next change queues another");
    }

    @Test
    void theOverlayGetsThisNodesAddressesAndTheOtherUsablePeers() {
        sync.queue();
        scheduler.runNext();
        RecordingOverlayPeers.Applied applied = overlay.applied.get(0);
        assertEquals(List.of(OverlayAddress.parse("100.64.0.1/10"), OverlayAddress.parse("fd7a:115c:a1e0::1/48")), applied.ownAddresses());
        List<OverlayPeer> peers = applied.peers();
        assertEquals(1, peers.size(), "neither this node nor a peer with a key the overlay cannot take");
        assertEquals(key(2), peers.get(0).key());
        assertEquals(NetworkMap.toMeshPeer(map.byNodeId("b")).allowedIps(), peers.get(0).allowedIps());
        assertTrue(peers.get(0).endpoint().isEmpty(), "endpoints are the paths' to find");
    }

    @Test
    void nothingIsAppliedWithoutARegistrationAndARefusalStaysInside() {
        session.registration = null;
        sync.queue();
        scheduler.runNext();
        assertTrue(overlay.applied.isEmpty(), "no addresses to give before registration");

        session.registration = ControlTestKit.registered("self");
        overlay.refusal = new IllegalStateException("interface gone");
        sync.queue();
        scheduler.runNext(); // must not throw on the scheduler thread
        assertTrue(overlay.applied.isEmpty());
    }
}
