package io.cloudbridge.paths.internal;

import static io.cloudbridge.paths.internal.PathsTestKit.await;
import static io.cloudbridge.paths.internal.PathsTestKit.config;
import static io.cloudbridge.paths.internal.PathsTestKit.relay;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.api.path.PathBinding;
import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.api.transport.HomeRelay;
import io.cloudbridge.api.transport.RelayBusyException;
import io.cloudbridge.api.transport.TransportState;
import io.cloudbridge.paths.internal.PathsTestKit.TestSession;
import io.cloudbridge.paths.internal.PathsTestKit.TestTransport;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The path layer as a whole, on its own decisions thread, with transports that connect, fail and
 * are let go when the test says: the decisions of the race, the retries and the packet size acted on.
 * The race delay is long (ten seconds) where a test must see that something happens without it.
 */
class RelayPathsTest {
    private static final NodeKey PEER = NodeKey.of(new byte[NodeKey.LENGTH]);

    private final TestTransport quic = new TestTransport("quic", 10, "quic");
    private final TestTransport websocket = new TestTransport("websocket", 20, "wss");
    private final HomeRelay home = relay("quic", "wss");
    private RelayPaths paths;

    @AfterEach
    void deactivate() {
        if (paths != null) {
            paths.deactivate();
        }
    }

    private void start(PathsConfig config, TestTransport... transports) {
        paths = new RelayPaths(config);
        for (TestTransport t : transports) {
            paths.addTransport(t);
        }
        paths.setHomeRelay(home);
    }

    private void awaitCarrier(String transport) {
        await("the peers over " + transport, () -> paths.activeTransport().equals(Optional.of(transport)));
    }

    @Test
    void whenTheRelayLetsTheSessionGoThePeersMoveToAnotherTransportBeforeItCloses() {
        start(config(10_000, 100, 1000, 3000), quic, websocket);
        await("quic dialled", () -> quic.opens.size() == 1);
        TestSession q = quic.connectLast();
        awaitCarrier("quic");
        assertEquals(PathBinding.Sent.SENT, paths.send(PEER, ByteBuffer.allocate(100)));
        assertEquals(1, q.sent);
        assertTrue(websocket.opens.isEmpty(), "quic connected within its head start: websocket is not needed");

        q.goAway();
        await("websocket dialled at once, not after the race delay", () -> websocket.opens.size() == 1);
        assertEquals(Optional.of("quic"), paths.activeTransport(), "make before break: quic carries the peers meanwhile");

        TestSession w = websocket.connectLast();
        awaitCarrier("websocket");
        await("the session let go closed", () -> q.state == TransportState.CLOSED);
        assertEquals(PathBinding.Sent.SENT, paths.send(PEER, ByteBuffer.allocate(100)), "the peer's route is the same; only its carrier changed");
        assertEquals(1, w.sent);
    }

    @Test
    void aTransportThatFailsToConnectIsSetAsideAndTheNextTakesThePeersMeanwhile() {
        start(config(10_000, 300, 1000, 3000), quic, websocket);
        await("quic dialled", () -> quic.opens.size() == 1);
        long failedAt = System.nanoTime();
        quic.failLast(new IOException("UDP blocked"));
        await("websocket dialled at once, not after the race delay", () -> websocket.opens.size() == 1);
        websocket.connectLast();
        awaitCarrier("websocket");

        await("quic dialled again after its backoff", () -> quic.opens.size() == 2);
        assertTrue(quic.openedNanos.get(1) - failedAt >= TimeUnit.MILLISECONDS.toNanos(300), "not before its backoff");
        TestSession q = quic.connectLast();
        awaitCarrier("quic");
        assertEquals(TransportState.CONNECTED, q.state);
    }

    @Test
    void aBusyRelayIsDialledAgainNoSoonerThanItAsked() {
        start(config(10_000, 100, 30_000, 3000), quic);
        await("quic dialled", () -> quic.opens.size() == 1);
        long refusedAt = System.nanoTime();
        // Longer than the one-second tick plus the 100 ms backoff a plain failure would get.
        quic.failLast(new RelayBusyException("a plugin of the relay restarting", Duration.ofMillis(1500)));
        await("quic dialled again", () -> quic.opens.size() == 2);
        assertTrue(quic.openedNanos.get(1) - refusedAt >= TimeUnit.MILLISECONDS.toNanos(1500),
                "dialled " + (quic.openedNanos.get(1) - refusedAt) / 1_000_000 + " ms after the refusal");
    }

    @Test
    void aSessionStillFindingItsPacketSizeTakesThePeersOnlyOnceItHasFoundIt() {
        start(config(50, 100, 1000, 3000), quic, websocket);
        await("websocket raced in beside quic", () -> websocket.opens.size() == 1);
        TestSession w = websocket.connectLast(true, 1300);
        awaitCarrier("websocket");

        TestSession q = quic.connectLast(false, 1200);
        decided();
        assertEquals(Optional.of("websocket"), paths.activeTransport(), "quic is still finding its packet size");
        assertEquals(TransportState.CONNECTED, q.state, "and is kept while it does");
        assertEquals(OptionalInt.of(1300), paths.packetLimit(), "its first cautious size does not lower the MTU");

        q.packetSizeFound(1350);
        awaitCarrier("quic");
        await("websocket closed: quic carries the peers", () -> w.state == TransportState.CLOSED);
        assertEquals(OptionalInt.of(1300), paths.packetLimit(), "the smallest each transport last had");
    }

    @Test
    void withNoOtherPathAnUnsettledSessionCarriesThePeersButDoesNotSizeTheMtu() {
        start(config(10_000, 100, 1000, 3000), quic);
        await("quic dialled", () -> quic.opens.size() == 1);
        TestSession q = quic.connectLast(false, 1200);
        awaitCarrier("quic");
        assertEquals(OptionalInt.empty(), paths.packetLimit(), "1,200 bytes is only where QUIC's discovery starts");

        q.packetSizeFound(1350);
        assertEquals(OptionalInt.of(1350), paths.packetLimit());
        q.maxPacketSize = 1330;
        assertEquals(OptionalInt.of(1330), paths.packetLimit(), "asked again at each poll: the path's size may change");
    }

    @Test
    void withoutAHomeRelayThereIsNoPath() {
        start(config(10_000, 100, 1000, 3000), quic);
        await("quic dialled", () -> quic.opens.size() == 1);
        TestSession q = quic.connectLast();
        awaitCarrier("quic");
        paths.unsetHomeRelay(home);
        await("no path", () -> paths.send(PEER, ByteBuffer.allocate(100)) == null);
        assertEquals(TransportState.CLOSED, q.state);
        assertEquals(List.of("no home relay (not registered)"), paths.relayTable());
    }

    /**
     * Returns once the layer has taken every decision asked of it so far: its one thread takes them
     * in order, and a transport better than all, added now, is dialled after them.
     */
    private void decided() {
        TestTransport marker = new TestTransport("marker", 0, "quic");
        paths.addTransport(marker);
        await("the decisions asked before taken", () -> marker.opens.size() == 1);
        paths.removeTransport(marker);
    }
}
