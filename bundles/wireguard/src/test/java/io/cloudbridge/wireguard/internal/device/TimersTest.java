package io.cloudbridge.wireguard.internal.device;

import io.cloudbridge.paths.internal.OverlayBinding;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.api.net.IpPrefix;
import io.cloudbridge.wireguard.internal.noise.Identity;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.channels.DatagramChannel;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The timer state machine, with the protocol's durations shrunk so that minutes take a second. */
class TimersTest {
    static final Timers FAST = new Timers(Duration.ofMillis(400), Duration.ofMillis(1200), Duration.ofMillis(700),
            Duration.ofMillis(150), Duration.ofMillis(300), Duration.ZERO);

    final Identity aliceId = Identity.generate();
    final Identity bobId = Identity.generate();
    final Set<Integer> aliceGotReply = ConcurrentHashMap.newKeySet();
    WireGuardDevice alice;
    WireGuardDevice bob;
    Peer bobAtAlice;
    Peer aliceAtBob;

    private void pair(Timers aliceTimers, Timers bobTimers, boolean bobAnswers) throws Exception {
        DatagramChannel a = DatagramChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
        DatagramChannel b = DatagramChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
        alice = new WireGuardDevice(aliceId, new OverlayBinding(a), (peer, p, n) -> {
            if (IcmpEcho.isReply(p, n)) {
                aliceGotReply.add(IcmpEcho.sequence(p));
            }
        }, Clock.systemUTC(), 1000, aliceTimers);
        bob = new WireGuardDevice(bobId, new OverlayBinding(b), (peer, p, n) -> {
            if (bobAnswers && IcmpEcho.isRequest(p, n)) {
                bob.send(IcmpEcho.replyTo(p, n));
            }
        }, Clock.systemUTC(), 1000, bobTimers);
        bobAtAlice = alice.addPeer(bobId.publicKey(), null, List.of(IpPrefix.parse("10.0.0.2/32")),
                (InetSocketAddress) b.getLocalAddress());
        aliceAtBob = bob.addPeer(aliceId.publicKey(), null, List.of(IpPrefix.parse("10.0.0.1/32")), null);
        alice.start();
        bob.start();
    }

    @AfterEach
    void close() throws Exception {
        if (alice != null) {
            alice.close();
        }
        if (bob != null) {
            bob.close();
        }
    }

    private void ping(int seq) throws Exception {
        alice.send(IcmpEcho.request((Inet4Address) InetAddress.getByName("10.0.0.1"),
                (Inet4Address) InetAddress.getByName("10.0.0.2"), 1, seq, new byte[8]));
    }

    @Test
    void sessionsAreRenewedBeforeTheyExpireWithoutAGap() throws Exception {
        pair(FAST, FAST, true);
        long end = System.nanoTime() + Duration.ofMillis(2500).toNanos();
        int seq = 0;
        while (System.nanoTime() < end) {
            ping(++seq);
            int expect = seq;
            NamespaceLab.await(Duration.ofMillis(500), "reply " + expect, () -> aliceGotReply.contains(expect));
        }
        assertTrue(bobAtAlice.handshakesCompleted() >= 4,
                "2.5 s of a session renewed every 0.4 s: " + bobAtAlice.handshakesCompleted() + " handshakes");
        assertEquals(0L, alice.drops().getOrDefault("expired session", 0L) + bob.drops().getOrDefault("expired session", 0L));
        assertTrue(alice.indexCount() <= 3 && bob.indexCount() <= 3, "old sessions are retired: " + alice.indexCount()
                + "/" + bob.indexCount());
    }

    @Test
    void anUnansweredHandshakeIsRetriedThenGivenUp() throws Exception {
        DatagramChannel deaf = DatagramChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
        try {
            pair(FAST, FAST, true);
            bobAtAlice.endpoint = (InetSocketAddress) deaf.getLocalAddress();
            ping(1);
            ping(2);
            NamespaceLab.await(Duration.ofSeconds(3), "gave up after REKEY_ATTEMPT_TIME",
                    () -> alice.drops().getOrDefault("handshake gave up", 0L) == 2L);
            assertTrue(Duration.between(Instant.EPOCH, bobAtAlice.lastHandshakeSent).toMillis() > 0);
            assertNull(bobAtAlice.retryAt, "no more retries");
            assertEquals(0, alice.indexCount(), "the retries' indices are freed");
        } finally {
            deaf.close();
        }
    }

    @Test
    void aReceiverThatHasNothingToSayStillSendsAKeepalive() throws Exception {
        pair(FAST, FAST, false);
        ping(1);
        NamespaceLab.await(Duration.ofSeconds(2), "bob received the ping", () -> aliceAtBob.rxBytes() > 0);
        Instant before = bobAtAlice.lastReceived;
        NamespaceLab.await(Duration.ofSeconds(2), "bob's passive keepalive reached alice",
                () -> bobAtAlice.lastReceived.isAfter(before));
    }

    @Test
    void persistentKeepalivesHoldTheLineOpen() throws Exception {
        pair(FAST.withPersistentKeepalive(Duration.ofMillis(200)), FAST, true);
        ping(1);
        NamespaceLab.await(Duration.ofSeconds(2), "reply", () -> aliceGotReply.contains(1));
        for (int i = 0; i < 3; i++) {
            Instant seen = aliceAtBob.lastReceived;
            NamespaceLab.await(Duration.ofSeconds(1), "persistent keepalive " + i, () -> aliceAtBob.lastReceived.isAfter(seen));
        }
    }

    @Test
    void everyKeyIsErasedAfterThreeRejectTimesWithoutANewSession() throws Exception {
        Timers quick = new Timers(Duration.ofMillis(300), Duration.ofMillis(400), Duration.ofMillis(700),
                Duration.ofMillis(150), Duration.ofMillis(300), Duration.ZERO);
        pair(quick, quick, true);
        ping(1);
        NamespaceLab.await(Duration.ofSeconds(2), "reply", () -> aliceGotReply.contains(1));
        assertTrue(bobAtAlice.current != null);
        NamespaceLab.await(Duration.ofSeconds(3), "alice's keys erased after 1.2 s idle",
                () -> bobAtAlice.current == null && bobAtAlice.previous == null);
        NamespaceLab.await(Duration.ofSeconds(3), "bob's keys erased too",
                () -> aliceAtBob.current == null && aliceAtBob.next == null);
        assertEquals(0, alice.indexCount());
        ping(2); // and a new session starts on demand
        NamespaceLab.await(Duration.ofSeconds(2), "reply after erasure", () -> aliceGotReply.contains(2));
    }
}
