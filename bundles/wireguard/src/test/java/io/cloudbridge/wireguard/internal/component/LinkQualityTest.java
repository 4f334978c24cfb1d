package io.cloudbridge.wireguard.internal.component;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.api.net.IpPrefix;
import io.cloudbridge.paths.internal.OverlayBinding;
import io.cloudbridge.wireguard.internal.device.IcmpEcho;
import io.cloudbridge.wireguard.internal.device.Peer;
import io.cloudbridge.wireguard.internal.device.WireGuardDevice;
import io.cloudbridge.wireguard.internal.noise.Identity;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.channels.DatagramChannel;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Link probes between two real engines over loopback: answered by the peer's engine even where its
 * policy lets nothing in, never sent without a session, lost when the peer goes quiet; and the
 * per-peer meters they feed, within their limit.
 */
class LinkQualityTest {
    final Identity aliceId = Identity.generate();
    final Identity bobId = Identity.generate();
    final LinkQuality aliceLinks = new LinkQuality();
    final LinkQuality bobLinks = new LinkQuality();
    /** What reached either host past its engine: nothing may (bob's policy refuses all, probes stop before it). */
    final AtomicInteger bobDelivered = new AtomicInteger();
    volatile boolean bobAnswers = true;
    /** The sequence numbers of the probe answers either engine received. */
    final java.util.Set<Integer> probeRepliesSeen = java.util.concurrent.ConcurrentHashMap.newKeySet();
    WireGuardDevice alice;
    WireGuardDevice bob;
    Inet4Address aliceAddress;

    @BeforeEach
    void devices() throws Exception {
        devices(io.cloudbridge.wireguard.internal.device.Timers.STANDARD);
    }

    private void devices(io.cloudbridge.wireguard.internal.device.Timers timers) throws Exception {
        aliceAddress = (Inet4Address) InetAddress.getByName("10.0.0.1");
        DatagramChannel a = DatagramChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
        DatagramChannel b = DatagramChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
        InetSocketAddress bobEndpoint = (InetSocketAddress) b.getLocalAddress();
        alice = new WireGuardDevice(aliceId, new OverlayBinding(a), sink(() -> alice, aliceLinks, "10.0.0.1", () -> true),
                Clock.systemUTC(), 1000, timers);
        bob = new WireGuardDevice(bobId, new OverlayBinding(b), sink(() -> bob, bobLinks, "10.0.0.2", () -> bobAnswers),
                Clock.systemUTC(), 1000, timers);
        bob.filter(WireGuardService.FAIL_CLOSED);
        alice.addPeer(bobId.publicKey(), null, List.of(IpPrefix.parse("10.0.0.2/32")), bobEndpoint);
        bob.addPeer(aliceId.publicKey(), null, List.of(IpPrefix.parse("10.0.0.1/32")), null);
        alice.start();
        bob.start();
    }

    private WireGuardDevice.PacketSink sink(java.util.function.Supplier<WireGuardDevice> self, LinkQuality links,
            String ownAddress, BooleanSupplier answering) throws Exception {
        List<InetAddress> own = List.of(InetAddress.getByName(ownAddress));
        return new WireGuardDevice.PacketSink() {
            @Override
            public void deliver(Peer peer, byte[] packet, int length) {
                bobDelivered.incrementAndGet();
            }

            @Override
            public boolean answerBeforePolicy(Peer peer, byte[] packet, int length) {
                if (IcmpEcho.isReply(packet, length) && IcmpEcho.id(packet) == LinkQuality.PROBE_ID) {
                    probeRepliesSeen.add(IcmpEcho.sequence(packet));
                }
                if (!answering.getAsBoolean()) {
                    return true; // a quiet peer takes the probe and says nothing, as one that went away would
                }
                return links.answer(self.get(), peer, packet, length, own);
            }
        };
    }

    @AfterEach
    void close() throws Exception {
        alice.close();
        bob.close();
    }

    @Test
    void aPeerWithoutASessionIsNotProbedNorCountedLost() {
        Peer toBob = alice.peers().get(0);
        aliceLinks.probe(alice, List.of(aliceAddress));
        aliceLinks.probe(alice, List.of(aliceAddress));
        assertNull(toBob.lastHandshake(), "a probe must not start a handshake");
        assertEquals(0, aliceLinks.lostTotal());
        assertTrue(Double.isNaN(aliceLinks.link(toBob).orElseThrow().lossRatio()));
    }

    @Test
    void probesAreAnsweredPastADenyAllPolicyAndMeasureTheLink() throws Exception {
        Peer toBob = openSession();
        for (int round = 0; round < 4; round++) {
            aliceLinks.probe(alice, List.of(aliceAddress));
            int expected = round + 1;
            waitFor(() -> aliceLinks.answeredTotal() == expected, "probe " + expected + " answered");
        }
        LinkQuality.PeerLink link = aliceLinks.link(toBob).orElseThrow();
        assertTrue(link.rttSeconds() > 0 && link.rttSeconds() < 1, "rtt " + link.rttSeconds());
        assertTrue(link.jitterSeconds() >= 0, "jitter " + link.jitterSeconds());
        assertEquals(0.0, link.lossRatio());
        assertEquals(0, bobDelivered.get(), "probes never reach the host behind the policy");

        bobAnswers = false;
        Peer toAlice = bob.peers().get(0);
        for (int round = 0; round < 4; round++) {
            long heard = toAlice.rxPackets();
            aliceLinks.probe(alice, List.of(aliceAddress));
            waitFor(() -> toAlice.rxPackets() > heard, "bob hearing probe " + (round + 5) + " and keeping quiet");
        }
        aliceLinks.probe(alice, List.of(aliceAddress)); // the last unanswered one is counted lost here
        assertEquals(4, aliceLinks.lostTotal());
        assertEquals(4.0 / 8, link.lossRatio(), 1e-9);
    }

    @Test
    void anEchoWithTheProbeIdButNotItsPayloadIsLeftToTheHost() throws Exception {
        Peer toBob = openSession();
        int before = bobDelivered.get();
        byte[] ordinary = IcmpEcho.request(aliceAddress, (Inet4Address) InetAddress.getByName("10.0.0.2"), LinkQuality.PROBE_ID,
                7, "a host's own ping".getBytes(StandardCharsets.US_ASCII));
        assertFalse(bobLinks.answer(bob, bob.peers().get(0), ordinary, ordinary.length, List.of(InetAddress.getByName("10.0.0.2"))));
        assertFalse(aliceLinks.answer(alice, toBob, ordinary, ordinary.length, List.of(aliceAddress)));
        assertEquals(before, bobDelivered.get());

        // A probe to an address that is not bob's own: taken, and not answered.
        Peer toAlice = bob.peers().get(0);
        byte[] elsewhere = IcmpEcho.request(aliceAddress, (Inet4Address) InetAddress.getByName("10.0.0.99"),
                LinkQuality.PROBE_ID, 9, LinkQuality.MAGIC);
        // Bob's side of the session is up once alice's first packet reached him; a packet he sends tells.
        byte[] fromBob = IcmpEcho.request((Inet4Address) InetAddress.getByName("10.0.0.2"), aliceAddress, 1, 3, new byte[8]);
        waitFor(() -> bob.sendOnSession(toAlice, fromBob), "bob's session");
        assertTrue(bobLinks.answer(bob, toAlice, elsewhere, elsewhere.length, List.of(InetAddress.getByName("10.0.0.2"))));
        byte[] toBobsOwn = IcmpEcho.request(aliceAddress, (Inet4Address) InetAddress.getByName("10.0.0.2"),
                LinkQuality.PROBE_ID, 10, LinkQuality.MAGIC);
        assertTrue(bobLinks.answer(bob, toAlice, toBobsOwn, toBobsOwn.length, List.of(InetAddress.getByName("10.0.0.2"))));
        // Both would go out in this order on one session: once the second's answer is in, the first's would be.
        waitFor(() -> probeRepliesSeen.contains(10), "the answer to the probe of bob's own address");
        assertFalse(probeRepliesSeen.contains(9), "a probe to another address was answered");
    }

    @Test
    void metersFollowThePeersWithinTheirLimit() throws Exception {
        Peer toBob = openSession();
        aliceLinks.probe(alice, List.of(aliceAddress));
        waitFor(() -> aliceLinks.answeredTotal() == 1, "the probe answered");
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        PeerMeters meters = new PeerMeters(aliceLinks, p -> "relay", 1);
        meters.bind(registry);
        meters.reconcile(alice.peers());
        assertTrue(registry.get("cloudbridge.peer.rtt").tag("peer", "10.0.0.2").gauge().value() > 0);
        assertEquals(1, registry.get("cloudbridge.peer.path").tags("peer", "10.0.0.2", "kind", "relay").gauge().value());
        assertEquals(0, registry.get("cloudbridge.peer.path").tags("peer", "10.0.0.2", "kind", "direct").gauge().value());
        assertEquals(toBob.txBytes(), registry.get("cloudbridge.peer.sent.bytes").tag("peer", "10.0.0.2").functionCounter().count());
        assertEquals(1, registry.get("cloudbridge.peer.probes").tag("outcome", "answered").functionCounter().count());

        meters.limit(0);
        assertTrue(registry.find("cloudbridge.peer.rtt").meters().isEmpty(), "over the limit: no per-peer series");
        assertEquals(1, registry.get("cloudbridge.overlay.peers").tag("listed", "false").gauge().value());

        meters.limit(5);
        alice.removePeer(bobId.publicKey());
        meters.reconcile(alice.peers());
        assertTrue(registry.find("cloudbridge.peer.sent.bytes").meters().isEmpty(), "a peer gone takes its series along");
        meters.unbind(registry);
        assertTrue(registry.getMeters().isEmpty());
    }

    /**
     * Probes are not data for the session's timers: with the protocol's durations shrunk (rekey
     * after 1 s, sessions unusable after 3 s), a second of probes answered and unanswered starts no
     * handshake and renews nothing, the session lapses as an idle one would, and its figures go
     * with it.
     */
    @Test
    void probesNeitherRenewNorStartASessionAndLapseWithIt() throws Exception {
        close();
        devices(new io.cloudbridge.wireguard.internal.device.Timers(java.time.Duration.ofSeconds(1),
                java.time.Duration.ofSeconds(3), java.time.Duration.ofSeconds(9), java.time.Duration.ofMillis(200),
                java.time.Duration.ofMillis(200), java.time.Duration.ZERO));
        Peer toBob = openSession();
        aliceLinks.probe(alice, List.of(aliceAddress));
        waitFor(() -> aliceLinks.answeredTotal() == 1, "the first probe answered");
        int handshakes = toBob.handshakesCompleted();
        long until = System.nanoTime() + 1_500_000_000L;
        while (System.nanoTime() < until) { // past the rekey age, answered, then unanswered
            bobAnswers = System.nanoTime() < until - 700_000_000L;
            aliceLinks.probe(alice, List.of(aliceAddress));
            Thread.sleep(100);
        }
        assertTrue(aliceLinks.lostTotal() > 0, "bob went quiet");
        bobAnswers = true;
        byte[] echo = IcmpEcho.request(aliceAddress, (Inet4Address) InetAddress.getByName("10.0.0.2"), 1, 2, new byte[8]);
        waitFor(() -> !alice.sendOnSession(toBob, echo), "the session past its 3 s");
        aliceLinks.probe(alice, List.of(aliceAddress));
        assertEquals(handshakes, toBob.handshakesCompleted(), "no handshake for the probes' sake");
        assertTrue(Double.isNaN(aliceLinks.link(toBob).orElseThrow().rttSeconds()), "no session, no figures");
    }

    /**
     * A first packet from alice queues behind the handshake it starts; the session is up once a
     * packet goes out on it (the handshake's time is recorded a moment before the session is).
     */
    private Peer openSession() throws Exception {
        Peer toBob = alice.peers().get(0);
        byte[] echo = IcmpEcho.request(aliceAddress, (Inet4Address) InetAddress.getByName("10.0.0.2"), 1, 1, new byte[8]);
        alice.send(echo);
        waitFor(() -> alice.sendOnSession(toBob, echo), "a session");
        return toBob;
    }

    private static void waitFor(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(10);
        }
    }
}
