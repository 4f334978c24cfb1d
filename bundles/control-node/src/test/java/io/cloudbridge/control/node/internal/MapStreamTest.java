package io.cloudbridge.control.node.internal;

import static io.cloudbridge.control.node.internal.ControlTestKit.key;
import static io.cloudbridge.control.node.internal.ControlTestKit.peer;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.control.node.internal.ControlTestKit.QueueingScheduler;
import io.cloudbridge.control.node.internal.ControlTestKit.RecordingOverlayPeers;
import io.cloudbridge.control.node.internal.ControlTestKit.RecordingStream;
import io.cloudbridge.control.v1.FullMap;
import io.cloudbridge.control.v1.NetworkMapUpdate;
import io.cloudbridge.control.v1.WatchNetworkMapRequest;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.netty.NettyChannelBuilder;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What the map stream does with each update and with each way it can end, driven by hand instead of by a relay. */
class MapStreamTest {
    @TempDir
    Path state;
    private final QueueingScheduler scheduler = new QueueingScheduler();
    private final NetworkMap map = new NetworkMap();
    private final RecordingOverlayPeers overlay = new RecordingOverlayPeers();
    private ControlSession session;
    private MapStream stream;
    private ManagedChannel elsewhere;

    @BeforeEach
    void start() {
        session = ControlTestKit.session(state, ControlTestKit.config("relay.example:7443", "node-a", "", 30), scheduler);
        session.registration = ControlTestKit.registered("self");
        session.status = "registered";
        session.overlayPeers = overlay;
        OverlaySync overlaySync = new OverlaySync(session, map);
        stream = new MapStream(session, map, overlaySync, new HomeRelayPublication(session));
    }

    @AfterEach
    void stop() {
        scheduler.shutdownNow();
        if (elsewhere != null) {
            elsewhere.shutdownNow();
        }
    }

    /** An opening of the stream as gRPC starts it: its observer told the outgoing side before any callback. */
    private MapStream.Watch open(RecordingStream<WatchNetworkMapRequest> requests) {
        MapStream.Watch watch = stream.new Watch(session.channel);
        watch.beforeStart(requests);
        return watch;
    }

    private MapStream.Watch open() {
        return open(new RecordingStream<>());
    }

    private static NetworkMapUpdate full(long version) {
        return NetworkMapUpdate.newBuilder().setVersion(version).setFull(FullMap.newBuilder()
                .addPeers(peer("self", key(1), "me", "100.64.0.1/10")).addPeers(peer("b", key(2), "beta", "100.64.0.2/10"))).build();
    }

    @Test
    void updatesFillTheMapAndTheOverlayIsToldOnceForTheBurst() {
        MapStream.Watch watch = open();
        watch.onNext(full(3));
        watch.onNext(NetworkMapUpdate.newBuilder().setVersion(4).setUpsert(peer("c", key(3), "gamma", "100.64.0.3/10")).build());
        assertEquals(4, map.version());
        assertEquals(3, map.size());
        QueueingScheduler.Task sync = scheduler.only();
        assertEquals(50, sync.delayMillis());

        scheduler.runNext();
        assertEquals(1, overlay.applied.size());
        assertEquals(2, overlay.applied.get(0).peers().size(), "the other two nodes, not this one");
    }

    @Test
    void anUpdateAfterABreakSaysRegisteredAgainAndResetsTheBackoff() {
        session.failures = 4;
        session.status = MapStream.MAP_STREAM_ENDED + ": UNAVAILABLE; retrying";
        open().onNext(full(1));
        assertEquals("registered", session.status);
        assertEquals(0, session.failures, "the next break retries at once, not after the last backoff");

        session.status = "registering its new key";
        open().onNext(full(2));
        assertEquals("registering its new key", session.status, "only the break's own status is over");
    }

    @Test
    void aReplacedStreamIsNotListenedTo() {
        MapStream.Watch old = open();
        open();
        old.onNext(full(9));
        old.onError(Status.UNAVAILABLE.asRuntimeException());
        old.onCompleted();
        assertEquals(0, map.version());
        assertEquals(0, map.size());
        assertTrue(scheduler.tasks.isEmpty(), "neither an overlay update nor a retry");
    }

    @Test
    void aNodeTheRelayRemovedStopsSignedOutWithItsOverlayCleared() {
        open().onError(Status.UNAUTHENTICATED.withDescription("node removed").asRuntimeException());
        assertNull(session.registration);
        assertEquals("removed by the relay", session.status);
        assertEquals(1, overlay.applied.size());
        assertEquals(List.of(), overlay.applied.get(0).ownAddresses());
        assertEquals(List.of(), overlay.applied.get(0).peers());
        assertTrue(scheduler.tasks.isEmpty(), "no retry: it waits for a new credential");
    }

    @Test
    void aBrokenStreamIsRetriedWithTheSessionsBackoff() {
        open().onError(Status.UNAUTHENTICATED.withDescription("token expired").asRuntimeException());
        scheduler.runNext();
        assertEquals("map stream ended: UNAUTHENTICATED (token expired); retrying", session.status, "only a removal stops it");
        assertEquals(1, session.failures);
        long wait = scheduler.only().delayMillis();
        assertTrue(wait >= 500 && wait <= 1000, wait + " ms");

        scheduler.tasks.clear();
        open().onCompleted();
        scheduler.runNext();
        assertEquals("map stream ended by the relay; retrying", session.status);
        assertEquals(2, session.failures);
    }

    @Test
    void aStreamRefusedForABudgetWaitsAtLeastAsLongAsTheRelayAsks() {
        Metadata trailers = new Metadata();
        trailers.put(Backoff.RETRY_PUSHBACK, "60000");
        open().onError(Status.RESOURCE_EXHAUSTED.asRuntimeException(trailers));
        scheduler.runNext();
        long wait = scheduler.only().delayMillis();
        assertTrue(wait >= 60_000 && wait <= 75_000, wait + " ms");
    }

    @Test
    void aStreamWhoseChannelWasReplacedIsReopenedAtOnceOnTheNewOne() {
        RecordingStream<WatchNetworkMapRequest> requests = new RecordingStream<>();
        MapStream.Watch moved = open(requests);
        elsewhere = NettyChannelBuilder.forAddress("127.0.0.1", 9).usePlaintext().build();
        elsewhere.shutdownNow(); // the reopened call fails on it at once, without reaching for the network
        session.channel = elsewhere;
        moved.onError(Status.UNAVAILABLE.asRuntimeException());
        assertEquals(0, scheduler.only().delayMillis());

        scheduler.runNext();
        assertEquals("the map stream is opened again", requests.cancelled, "the stream was opened again, not retried later");
        assertEquals("registered", session.status, "no failure said");
        assertEquals(0, session.failures, "nor counted");
    }
}
