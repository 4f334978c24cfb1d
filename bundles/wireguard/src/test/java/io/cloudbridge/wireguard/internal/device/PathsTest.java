package io.cloudbridge.wireguard.internal.device;

import io.cloudbridge.paths.internal.OverlayBinding;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.api.mesh.PathKind;
import io.cloudbridge.api.path.DirectPath;
import io.cloudbridge.api.net.IpPrefix;
import io.cloudbridge.wireguard.internal.noise.Identity;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The engine's pluggable paths: a peer moves from the direct socket to another path (here an
 * in-process stand-in for a relay session) and back without its session starting over; and the
 * socket is shared with a bundle that claims STUN datagrams.
 */
class PathsTest {
    final Identity aliceId = Identity.generate();
    final Identity bobId = Identity.generate();
    final Set<Integer> replies = ConcurrentHashMap.newKeySet();
    WireGuardDevice alice;
    WireGuardDevice bob;
    OverlayBinding aliceSocket;
    OverlayBinding bobSocket;
    /** What takes bob's socket's datagrams that are not WireGuard's, as hole punching does. */
    volatile OverlayBinding.Claims bobClaims = (from, d) -> false;
    InetSocketAddress bobAddress;
    volatile boolean relayed;
    final AtomicInteger relayedPackets = new AtomicInteger();
    /** What bob's engine did with its sink, in order. */
    final List<String> bobSinkEvents = java.util.Collections.synchronizedList(new java.util.ArrayList<>());

    /** A path that hands each packet straight to the other device's inbound, as a relay would. */
    private DirectPath relayTo(WireGuardDevice target) {
        return relayPath(packet -> {
            relayedPackets.incrementAndGet();
            byte[] copy = new byte[packet.remaining()];
            packet.get(copy);
            target.receiveEncrypted(copy, copy.length);
            return true;
        });
    }

    /** A relay path whose sending is {@code send}. */
    private static DirectPath relayPath(java.util.function.Predicate<ByteBuffer> send) {
        return new DirectPath() {
            @Override
            public PathKind kind() {
                return PathKind.RELAY;
            }

            @Override
            public boolean send(ByteBuffer packet) {
                return send.test(packet);
            }
        };
    }

    @BeforeEach
    void devices() throws Exception {
        DatagramChannel a = DatagramChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
        DatagramChannel b = DatagramChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
        bobAddress = (InetSocketAddress) b.getLocalAddress();
        aliceSocket = new OverlayBinding(a);
        bobSocket = new OverlayBinding(b, TestRoutes.via(() -> null), (from, d) -> bobClaims.claim(from, d));
        alice = new WireGuardDevice(aliceId, aliceSocket, (peer, p, n) -> {
            if (IcmpEcho.isReply(p, n)) {
                replies.add(IcmpEcho.sequence(p));
            }
        }, Clock.systemUTC());
        bob = new WireGuardDevice(bobId, bobSocket, new WireGuardDevice.PacketSink() {
            @Override
            public void deliver(Peer peer, byte[] p, int n) {
                bobSinkEvents.add("deliver");
                if (IcmpEcho.isRequest(p, n)) {
                    bob.send(IcmpEcho.replyTo(p, n));
                }
            }

            @Override
            public void flush() {
                bobSinkEvents.add("flush");
            }
        }, Clock.systemUTC());
        alice.addPeer(bobId.publicKey(), null, List.of(IpPrefix.parse("10.0.0.2/32")), bobAddress);
        bob.addPeer(aliceId.publicKey(), null, List.of(IpPrefix.parse("10.0.0.1/32")), null);
        DirectPath toBob = relayTo(bob);
        DirectPath toAlice = relayTo(alice);
        aliceSocket.setRoutes(TestRoutes.via(() -> relayed ? toBob : null));
        bobSocket.setRoutes(TestRoutes.via(() -> relayed ? toAlice : null));
        alice.start();
        bob.start();
    }

    @AfterEach
    void close() throws Exception {
        alice.close();
        bob.close();
    }

    private void ping(int seq) throws Exception {
        alice.send(IcmpEcho.request((Inet4Address) InetAddress.getByName("10.0.0.1"),
                (Inet4Address) InetAddress.getByName("10.0.0.2"), 3, seq, new byte[4]));
        NamespaceLab.await(Duration.ofSeconds(5), "reply " + seq, () -> replies.contains(seq));
    }

    /**
     * A burst of relayed packets (what one read of the relay's connection brought) is decrypted as
     * it comes, and the sink (the TUN device, which joins a burst's TCP segments) is flushed once,
     * at the burst's end, and not before.
     */
    @Test
    void aRelayedBurstIsFlushedToTheSinkOnceAtItsEnd() throws Exception {
        ping(1); // the session, over the socket
        List<byte[]> held = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
        DirectPath holding = relayPath(packet -> {
            byte[] copy = new byte[packet.remaining()];
            packet.get(copy);
            held.add(copy);
            return true;
        });
        aliceSocket.setRoutes(TestRoutes.via(() -> holding));
        for (int seq = 10; seq < 13; seq++) {
            alice.send(IcmpEcho.request((Inet4Address) InetAddress.getByName("10.0.0.1"),
                    (Inet4Address) InetAddress.getByName("10.0.0.2"), 3, seq, new byte[4]));
        }
        NamespaceLab.await(Duration.ofSeconds(5), "three packets on the relay", () -> held.size() == 3);
        bobSinkEvents.clear();
        for (byte[] packet : held) {
            bobSocket.deliverInBurst(ByteBuffer.wrap(packet));
        }
        assertEquals(List.of("deliver", "deliver", "deliver"), List.copyOf(bobSinkEvents), "decrypted and delivered, not flushed yet");
        bobSocket.burstEnd();
        assertEquals(List.of("deliver", "deliver", "deliver", "flush"), List.copyOf(bobSinkEvents));
        // A packet delivered alone is flushed at once, as before.
        bobSinkEvents.clear();
        bobSocket.deliver(ByteBuffer.wrap(held.get(0)));
        assertEquals(List.of("flush"), List.copyOf(bobSinkEvents), "a replay is refused, and the sink still flushed: " + bobSinkEvents);
    }

    /**
     * An initiation that a path took and lost (a relay session dying under it) waits for the 5 s
     * rekey timeout; a new path coming up sends it again at once.
     */
    @Test
    void aHandshakeThatAPathTookAndLostGoesAgainWhenANewPathComesUp() throws Exception {
        java.util.concurrent.atomic.AtomicBoolean working = new java.util.concurrent.atomic.AtomicBoolean();
        AtomicInteger lost = new AtomicInteger();
        DirectPath dying = relayPath(packet -> {
            lost.incrementAndGet();
            return true; // taken, and never delivered
        });
        DirectPath toBob = relayTo(bob);
        relayed = true; // bob answers over the relay stand-in
        aliceSocket.setRoutes(TestRoutes.via(() -> working.get() ? toBob : dying));
        alice.send(IcmpEcho.request((Inet4Address) InetAddress.getByName("10.0.0.1"),
                (Inet4Address) InetAddress.getByName("10.0.0.2"), 3, 7, new byte[4]));
        NamespaceLab.await(Duration.ofSeconds(5), "the initiation lost", () -> lost.get() > 0);
        // A new session takes a while to come up; nudges closer together than 200 ms are ignored.
        long later = System.nanoTime() + Duration.ofMillis(400).toNanos();
        NamespaceLab.await(Duration.ofSeconds(5), "a new path's while", () -> System.nanoTime() > later);
        working.set(true);
        long up = System.nanoTime();
        alice.retryPendingHandshakes();
        NamespaceLab.await(Duration.ofSeconds(5), "the queued ping's reply", () -> replies.contains(7));
        long took = (System.nanoTime() - up) / 1_000_000;
        assertTrue(took < 1000, "the handshake went " + took + " ms after the new path came up");
    }

    /**
     * The first initiation finds no path (the relay session and the direct path are still coming
     * up), and the path comes up only after the quick no-path retries of the first 3 s: the
     * handshake must not wait out the 5 s rekey timeout. A lab cell whose path came up late sent
     * no handshake for seconds and lost its first pings.
     */
    @Test
    void aPathThatComesUpLateCarriesTheHandshakeWithinASecond() throws Exception {
        java.util.concurrent.atomic.AtomicBoolean pathUp = new java.util.concurrent.atomic.AtomicBoolean();
        DirectPath none = relayPath(packet -> false); // no session to the relay yet
        aliceSocket.setRoutes(TestRoutes.via(() -> pathUp.get() ? null : none));
        alice.send(IcmpEcho.request((Inet4Address) InetAddress.getByName("10.0.0.1"),
                (Inet4Address) InetAddress.getByName("10.0.0.2"), 3, 1, new byte[4]));
        long late = System.nanoTime() + Duration.ofMillis(3500).toNanos();
        NamespaceLab.await(Duration.ofSeconds(5), "3.5 s without a path", () -> System.nanoTime() > late);
        assertEquals(0, alice.peers().get(0).handshakesCompleted());
        pathUp.set(true);
        long up = System.nanoTime();
        NamespaceLab.await(Duration.ofSeconds(5), "the queued ping's reply", () -> replies.contains(1));
        long took = (System.nanoTime() - up) / 1_000_000;
        assertTrue(took < 1500, "the handshake went " + took + " ms after the path came up");
    }

    @Test
    void aPeerMovesBetweenPathsWithoutANewSession() throws Exception {
        ping(1);
        Peer bobAtAlice = alice.peers().get(0);
        assertEquals(1, bobAtAlice.handshakesCompleted());
        relayed = true;
        ping(2);
        ping(3);
        assertTrue(relayedPackets.get() >= 4, "requests and replies took the relay path: " + relayedPackets.get());
        relayed = false;
        int before = relayedPackets.get();
        ping(4);
        assertEquals(before, relayedPackets.get(), "back on the direct path");
        assertEquals(1, bobAtAlice.handshakesCompleted(), "one session throughout");
        assertEquals(bobAddress, bobAtAlice.endpoint(), "relayed packets did not move the UDP endpoint");
    }

    /**
     * The paths' bundle replaced while traffic flows: the engine has no binding for a moment
     * (its messages counted, not sent), then a new one on another socket; the session goes on
     * without a new handshake, and bob follows alice to her new address (roaming).
     */
    @Test
    void anEngineMovedToANewBindingKeepsItsSession() throws Exception {
        ping(1);
        Peer bobAtAlice = alice.peers().get(0);
        alice.rebind(new NoPaths());
        alice.send(IcmpEcho.request((Inet4Address) InetAddress.getByName("10.0.0.1"),
                (Inet4Address) InetAddress.getByName("10.0.0.2"), 3, 2, new byte[4]));
        assertEquals(1L, alice.drops().get("no paths"), alice.drops().toString());
        assertEquals(0, alice.listenPort(), "no socket meanwhile");
        OverlayBinding next = new OverlayBinding(DatagramChannel.open().bind(new InetSocketAddress("127.0.0.1", 0)));
        alice.rebind(next);
        assertEquals(next.localAddress().getPort(), alice.listenPort());
        ping(3);
        assertEquals(1, bobAtAlice.handshakesCompleted(), "one session throughout");
        assertEquals(next.localAddress(), bob.peers().get(0).endpoint(), "bob follows alice to her new socket");
    }

    @Test
    void stunDatagramsAreClaimedAndAnsweredFromTheSameSocket() throws Exception {
        byte[] cookie = {0x21, 0x12, (byte) 0xa4, 0x42};
        AtomicInteger claimed = new AtomicInteger();
        bobClaims = (from, d) -> {
            boolean stun = d.remaining() >= 20 && (d.get(0) & 0xc0) == 0 && d.get(4) == cookie[0] && d.get(5) == cookie[1]
                    && d.get(6) == cookie[2] && d.get(7) == cookie[3];
            if (stun) {
                claimed.incrementAndGet();
                ByteBuffer answer = ByteBuffer.allocate(20).put(0, (byte) 0x01).put(1, (byte) 0x01);
                answer.put(4, cookie[0]).put(5, cookie[1]).put(6, cookie[2]).put(7, cookie[3]);
                assertTrue(bobSocket.sendRaw(from, answer));
            }
            return stun;
        };
        try (DatagramChannel checker = DatagramChannel.open().bind(new InetSocketAddress("127.0.0.1", 0))) {
            ByteBuffer request = ByteBuffer.allocate(20).put(0, (byte) 0x00).put(1, (byte) 0x01);
            request.put(4, cookie[0]).put(5, cookie[1]).put(6, cookie[2]).put(7, cookie[3]);
            checker.send(request, bobAddress);
            ByteBuffer answer = ByteBuffer.allocate(64);
            InetSocketAddress from = (InetSocketAddress) checker.receive(answer);
            assertEquals(bobAddress, from, "answered from WireGuard's own 5-tuple");
            assertEquals(1, claimed.get());
        }
        ping(1); // WireGuard on the same socket is unaffected
        assertEquals(0L, bob.drops().getOrDefault("malformed", 0L));
    }
}
