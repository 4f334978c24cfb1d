package io.cloudbridge.control.node.internal;

import static io.cloudbridge.control.node.internal.ControlTestKit.key;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.api.overlay.OverlayDevice;
import io.cloudbridge.control.node.internal.ControlTestKit.FakeOverlay;
import io.cloudbridge.control.node.internal.ControlTestKit.QueueingScheduler;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The heartbeat chain, and the overlay-key check each beat makes before it calls the relay. */
class HeartbeatsTest {
    @TempDir
    Path state;
    private final QueueingScheduler scheduler = new QueueingScheduler();
    private final List<OverlayDevice> keyChanges = new ArrayList<>();
    private ControlSession session;
    private Heartbeats heartbeats;

    @BeforeEach
    void start() {
        session = ControlTestKit.session(state, ControlTestKit.config("relay.example:7443", "node-a", "", 30), scheduler);
        heartbeats = new Heartbeats(session, new NetworkMap(), keyChanges::add);
    }

    @AfterEach
    void stop() {
        scheduler.shutdownNow();
    }

    @Test
    void oneChainWhateverRegisteredLast() {
        heartbeats.schedule(1);
        heartbeats.schedule(20);
        assertEquals(2, scheduler.tasks.size());
        assertTrue(scheduler.tasks.get(0).future().isCancelled(), "the beat already due is replaced");
        assertFalse(scheduler.tasks.get(1).future().isCancelled());
        assertEquals(20_000, scheduler.tasks.get(1).delayMillis());
    }

    @Test
    void aNodeNotRegisteredDoesNotBeat() {
        heartbeats.heartbeat(); // no channel: a call would fail the test
        assertTrue(scheduler.tasks.isEmpty(), "the chain ends until the next registration");
    }

    @Test
    void aKeyChangedInPlaceRegistersAgainInsteadOfBeating() {
        session.registration = ControlTestKit.registered("self");
        session.nodeKey = key(1);
        FakeOverlay overlay = new FakeOverlay(key(2));
        session.overlay = overlay;
        heartbeats.heartbeat(); // no channel: a call would fail the test
        assertEquals(List.of(overlay), keyChanges);
        assertTrue(scheduler.tasks.isEmpty(), "the new registration starts its own beats");
    }
}
