package io.cloudbridge.paths.internal;

import static io.cloudbridge.paths.internal.PathsTestKit.attempt;
import static io.cloudbridge.paths.internal.PathsTestKit.config;
import static io.cloudbridge.paths.internal.PathsTestKit.connected;
import static io.cloudbridge.paths.internal.PathsTestKit.relay;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import io.cloudbridge.api.transport.RelayTransport;
import io.cloudbridge.api.transport.TransportState;
import io.cloudbridge.paths.internal.PathsTestKit.TestSession;
import io.cloudbridge.paths.internal.PathsTestKit.TestTransport;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The race and selection policy: the order transports are tried in, which session carries the peers, which is dialled next. */
class TransportRaceTest {
    private static final long RACE = 250_000_000L;

    private final TestTransport quic = new TestTransport("quic", 10, "quic");
    private final TestTransport websocket = new TestTransport("websocket", 20, "wss");
    private final TestTransport tcp = new TestTransport("tcp", 30, "wss");
    private final List<RelayTransport> ranked = List.of(quic, websocket, tcp);
    private final Map<RelayTransport, RelayAttempt> attempts = new HashMap<>();
    private final TransportRetries retries = new TransportRetries(() -> config(250, 1000, 30_000, 3000));

    @Test
    void candidatesAreTheTransportsThatReachTheRelayLowestPriorityFirstThenByName() {
        TestTransport vendor = new TestTransport("acme", 20, "wss");
        TestTransport masque = new TestTransport("masque", 1, "masque");
        List<RelayTransport> installed = List.of(tcp, websocket, masque, vendor, quic);

        assertEquals(List.of(quic, vendor, websocket, tcp), TransportRace.candidates(installed, relay("quic", "wss")),
                "masque does not reach a relay that has no masque endpoint, however good its priority");
        assertEquals(List.of(vendor, websocket, tcp), TransportRace.candidates(installed, relay("wss")));
        assertEquals(List.of(), TransportRace.candidates(installed, relay()));
    }

    @Test
    void theBestConnectedSessionByPriorityCarriesThePeers() {
        RelayAttempt q = put(connected(quic));
        RelayAttempt w = put(connected(websocket));
        put(connected(tcp));
        assertSame(q, TransportRace.carrier(ranked, attempts, null));
        assertSame(q, TransportRace.carrier(ranked, attempts, w), "a better session takes the peers from a worse one");

        q.session = null; // quic still connecting
        assertSame(w, TransportRace.carrier(ranked, attempts, w));
        TestSession lost = new TestSession("quic", null);
        lost.state = TransportState.RECONNECTING;
        q.session = lost;
        assertSame(w, TransportRace.carrier(ranked, attempts, q), "a session that lost its relay carries nothing");
        q.session = new TestSession("quic", null);
        q.ended = true;
        assertSame(w, TransportRace.carrier(ranked, attempts, q), "nor one that the layer ended");

        attempts.clear();
        put(attempt(quic));
        assertNull(TransportRace.carrier(ranked, attempts, null), "nothing connected: no path");
    }

    @Test
    void aSessionStillFindingItsPacketSizeTakesThePeersOnlyFromNoPathOrOnceSettled() {
        RelayAttempt q = put(connected(quic));
        session(q).settled = false;
        assertSame(q, TransportRace.carrier(ranked, attempts, null), "no other path: an unsettled session is better than none");

        RelayAttempt w = put(connected(websocket));
        assertSame(w, TransportRace.carrier(ranked, attempts, null), "a settled worse session is taken over an unsettled better one");
        assertSame(w, TransportRace.carrier(ranked, attempts, w), "the peers stay on the settled session while quic finds its size");
        assertSame(q, TransportRace.carrier(ranked, attempts, q),
                "one that already carries the peers keeps them: it is better than the settled one");

        session(q).settled = true;
        assertSame(q, TransportRace.carrier(ranked, attempts, w), "once settled, the better session takes the peers");
    }

    @Test
    void aSessionTheRelayIsLettingGoKeepsThePeersOnlyUntilAnotherHasConnected() {
        RelayAttempt q = put(connected(quic));
        session(q).goingAway = true;
        assertSame(q, TransportRace.carrier(ranked, attempts, q), "nothing else yet: the leaving session keeps them meanwhile");

        RelayAttempt w = put(connected(websocket));
        assertSame(w, TransportRace.carrier(ranked, attempts, q), "another transport, though of worse priority, takes them");
        session(w).settled = false;
        assertSame(w, TransportRace.carrier(ranked, attempts, q), "even one still finding its packet size");

        session(w).goingAway = true;
        assertSame(q, TransportRace.carrier(ranked, attempts, q), "all leaving: the best of them, until another connects");
    }

    @Test
    void theBestTransportIsDialledFirstAndTheNextOnlyOnceItsHeadStartIsOver() {
        assertSame(quic, TransportRace.next(ranked, attempts, null, retries, 0, RACE));

        RelayAttempt q = put(attempt(quic));
        assertNull(TransportRace.next(ranked, attempts, null, retries, q.startedNanos + RACE - 1, RACE), "quic is within its head start");
        assertSame(websocket, TransportRace.next(ranked, attempts, null, retries, q.startedNanos + RACE, RACE));

        RelayAttempt w = put(attempt(websocket));
        assertNull(TransportRace.next(ranked, attempts, null, retries, w.startedNanos + RACE - 1, RACE));
        assertSame(tcp, TransportRace.next(ranked, attempts, null, retries, w.startedNanos + RACE, RACE),
                "the head start is counted from each one's own start");
    }

    @Test
    void onlyBetterTransportsThanTheCarrierAreDialled() {
        RelayAttempt q = put(connected(quic));
        assertNull(TransportRace.next(ranked, attempts, q, retries, Long.MAX_VALUE / 2, RACE), "nothing is better than quic");

        attempts.clear();
        RelayAttempt w = put(connected(websocket));
        assertSame(quic, TransportRace.next(ranked, attempts, w, retries, 0, RACE),
                "quic is tried again while websocket carries the peers");
    }

    @Test
    void aTransportSetAsideAfterAFailureLetsTheNextOneBeDialledAtOnce() {
        long now = 1_000_000_000L;
        retries.backOff(quic, now);
        assertSame(websocket, TransportRace.next(ranked, attempts, null, retries, now, RACE));
        assertSame(quic, TransportRace.next(ranked, attempts, null, retries, now + 1_000_000_000L, RACE), "its backoff is over");
    }

    @Test
    void whenTheRelayLetsTheCarrierGoTheNextTransportIsDialledWithoutWaiting() {
        RelayAttempt q = put(connected(quic));
        session(q).goingAway = true;
        assertSame(websocket, TransportRace.next(ranked, attempts, q, retries, q.startedNanos, RACE));
        RelayAttempt w = put(attempt(websocket));
        assertNull(TransportRace.next(ranked, attempts, q, retries, w.startedNanos, RACE), "websocket has its head start");
        assertSame(tcp, TransportRace.next(ranked, attempts, q, retries, w.startedNanos + RACE, RACE));
    }

    private RelayAttempt put(RelayAttempt a) {
        attempts.put(a.transport, a);
        return a;
    }

    private static TestSession session(RelayAttempt a) {
        return (TestSession) a.session;
    }
}
