package io.cloudbridge.wireguard.internal.device;

import io.cloudbridge.paths.internal.OverlayBinding;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.api.net.IpPrefix;
import io.cloudbridge.wireguard.internal.noise.Handshake;
import io.cloudbridge.wireguard.internal.noise.Identity;
import io.cloudbridge.wireguard.internal.noise.Messages;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Hostile input to a device's UDP port on loopback: every kind is dropped and counted, nothing
 * escapes the receive loop, no state grows, and a real session keeps working throughout.
 */
class BadInputTest {
    Identity aliceId = Identity.generate();
    Identity bobId = Identity.generate();
    WireGuardDevice alice;
    WireGuardDevice bob;
    DatagramChannel attacker;
    InetSocketAddress bobAddress;
    final Map<Integer, Boolean> bobGotEcho = new ConcurrentHashMap<>();
    final AtomicInteger aliceReplies = new AtomicInteger();

    @BeforeEach
    void twoDevices() throws Exception {
        DatagramChannel a = DatagramChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
        DatagramChannel b = DatagramChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
        bobAddress = (InetSocketAddress) b.getLocalAddress();
        alice = new WireGuardDevice(aliceId, new OverlayBinding(a), (peer, p, n) -> aliceReplies.incrementAndGet(), Clock.systemUTC());
        bob = new WireGuardDevice(bobId, new OverlayBinding(b), (peer, p, n) -> {
            if (IcmpEcho.isRequest(p, n)) {
                bobGotEcho.put(IcmpEcho.sequence(p), true);
                bob.send(IcmpEcho.replyTo(p, n));
            }
        }, Clock.systemUTC(), 5);
        alice.addPeer(bobId.publicKey(), null, List.of(IpPrefix.parse("10.0.0.2/32")), bobAddress);
        bob.addPeer(aliceId.publicKey(), null, List.of(IpPrefix.parse("10.0.0.1/32")), null);
        alice.start();
        bob.start();
        attacker = DatagramChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
    }

    @AfterEach
    void close() throws Exception {
        alice.close();
        bob.close();
        attacker.close();
    }

    private void ping(int seq) throws Exception {
        alice.send(IcmpEcho.request((Inet4Address) InetAddress.getByName("10.0.0.1"),
                (Inet4Address) InetAddress.getByName("10.0.0.2"), 7, seq, new byte[] {1, 2, 3}));
        NamespaceLab.await(Duration.ofSeconds(5), "echo " + seq, () -> bobGotEcho.containsKey(seq));
    }

    private void attack(byte[] packet) throws Exception {
        attacker.send(ByteBuffer.wrap(packet), bobAddress);
    }

    private long dropped(String reason) {
        return bob.drops().getOrDefault(reason, 0L);
    }

    @Test
    void garbageTruncatedOversizedAndForgedMessagesAreCountedAndHarmless() throws Exception {
        ping(1);
        int indices = bob.indexCount();
        Random random = new Random(42);
        for (int i = 0; i < 200; i++) {
            byte[] junk = new byte[1 + random.nextInt(1500)];
            random.nextBytes(junk);
            junk[0] = (byte) (5 + random.nextInt(250)); // never a message type
            attack(junk);
            if (i % 20 == 19) {
                // Paced, so that the socket's receive buffer (a kernel limit) does not drop any.
                long expected = i + 1;
                NamespaceLab.await(Duration.ofSeconds(2), "junk counted", () -> dropped("malformed") >= expected);
            }
        }
        attack(new byte[] {1, 0, 0, 0, 9});                          // truncated initiation
        attack(new byte[Messages.INITIATION_LENGTH + 1]);             // wrong length for its type
        byte[] big = new byte[65_000];
        big[0] = Messages.TRANSPORT;
        attack(big);                                                  // oversized transport, unknown index
        byte[] initiation = new Handshake(Identity.generate(), bobId.publicKey(), null).createInitiation(5, Instant.now());
        initiation[120] ^= 1;
        attack(initiation);                                           // initiation with a bad MAC1
        byte[] response = new byte[Messages.RESPONSE_LENGTH];
        response[0] = Messages.RESPONSE;
        attack(response);                                             // response with a bad MAC1
        byte[] cookie = new byte[Messages.COOKIE_REPLY_LENGTH];
        cookie[0] = Messages.COOKIE_REPLY;
        attack(cookie);                                               // cookie reply to no index
        byte[] stranger = new Handshake(Identity.generate(), bobId.publicKey(), null).createInitiation(6, Instant.now());
        attack(stranger);                                             // a valid initiation from an unknown key

        ping(2); // the real session still works, and every attack packet was handled before it
        NamespaceLab.await(Duration.ofSeconds(2), "all attack packets counted",
                () -> dropped("malformed") + dropped("unknown index") + dropped("bad mac1") + dropped("unknown peer") >= 207);
        assertEquals(202L, dropped("malformed"), bob.drops().toString());
        assertEquals(2L, dropped("unknown index"), bob.drops().toString());
        assertTrue(dropped("bad mac1") >= 2, bob.drops().toString());
        assertTrue(dropped("unknown peer") >= 1, bob.drops().toString());
        assertTrue(dropped("malformed") >= 2, bob.drops().toString());
        assertEquals(0L, dropped("internal error"), bob.drops().toString());
        assertEquals(indices, bob.indexCount(), "bad input allocates no session");
    }

    /** Cryptokey routing inbound: a peer allowed everything still may not speak for another peer's address. */
    @Test
    void aPeerCannotSendFromAnotherPeersAddress() throws Exception {
        Identity carolId = Identity.generate();
        DatagramChannel c = DatagramChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
        WireGuardDevice carol = new WireGuardDevice(carolId, new OverlayBinding(c), (peer, p, n) -> { }, Clock.systemUTC());
        try {
            carol.addPeer(bobId.publicKey(), null, List.of(IpPrefix.parse("0.0.0.0/0"), IpPrefix.parse("::/0")), bobAddress);
            bob.addPeer(carolId.publicKey(), null, List.of(IpPrefix.parse("0.0.0.0/0")), null);
            carol.start();
            ping(1); // alice's own session: 10.0.0.1 is hers
            // carol claims alice's address as her source
            carol.send(IcmpEcho.request((Inet4Address) InetAddress.getByName("10.0.0.1"),
                    (Inet4Address) InetAddress.getByName("10.0.0.2"), 9, 99, new byte[1]));
            NamespaceLab.await(Duration.ofSeconds(5), "carol's spoofed packet dropped", () -> dropped("source not allowed") == 1);
            assertTrue(!bobGotEcho.containsKey(99));
            // and an IPv6 packet whose source is IPv4-mapped is not taken for an IPv4 one
            byte[] v6 = new byte[48];
            v6[0] = 0x60;
            v6[5] = 8; // payload length
            v6[6] = 58; // ICMPv6
            v6[7] = 64;
            byte[] mapped = InetAddress.getByName("::ffff:10.0.0.9").getAddress(); // 4 bytes: Java maps it
            v6[18] = (byte) 0xff;
            v6[19] = (byte) 0xff;
            System.arraycopy(mapped, 0, v6, 20, 4);
            v6[39] = 2; // destination ::2, routed by carol's ::/0
            carol.send(v6);
            NamespaceLab.await(Duration.ofSeconds(5), "the mapped-source packet dropped", () -> dropped("source not allowed") == 2);
        } finally {
            carol.close();
        }
    }

    @Test
    void replayedTransportMessagesAreDropped() throws Exception {
        // Capture what alice sends by pointing her at the attacker first, then replay it to bob.
        ping(1);
        DatagramChannel tap = DatagramChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
        alice.peers().get(0).endpoint = (InetSocketAddress) tap.getLocalAddress();
        alice.send(IcmpEcho.request((Inet4Address) InetAddress.getByName("10.0.0.1"),
                (Inet4Address) InetAddress.getByName("10.0.0.2"), 7, 3, new byte[] {4}));
        ByteBuffer captured = ByteBuffer.allocate(2048);
        tap.receive(captured);
        captured.flip();
        byte[] message = new byte[captured.remaining()];
        captured.get(message);
        tap.close();
        attack(message);
        NamespaceLab.await(Duration.ofSeconds(2), "the first copy delivered", () -> bobGotEcho.containsKey(3));
        attack(message);
        attack(message);
        NamespaceLab.await(Duration.ofSeconds(2), "replays dropped", () -> dropped("replayed") == 2);
        // Roaming: the authenticated packet came from the attacker's port, so bob now answers there;
        // that is WireGuard's design (the endpoint follows the latest authenticated packet).
        assertEquals(attacker.getLocalAddress(), bob.peers().get(0).endpoint());
    }

    @Test
    void aHandshakeFloodEngagesCookieReplies() throws Exception {
        // Five handshake messages a second is this device's load threshold (set for the test).
        Identity flooder = Identity.generate();
        bob.addPeer(flooder.publicKey(), null, List.of(IpPrefix.parse("10.0.0.9/32")), null);
        Handshake flood = new Handshake(flooder, bobId.publicKey(), null);
        for (int i = 0; i < 30; i++) {
            attack(flood.createInitiation(100 + i, Instant.now()));
        }
        NamespaceLab.await(Duration.ofSeconds(3), "cookie replies under load", () -> dropped("under load: cookie sent") > 0);
        attacker.configureBlocking(false);
        // A cookie reply answers one message (it is sealed with that message's MAC1): send one
        // more initiation and take the reply to it.
        byte[] last = flood.createInitiation(999, Instant.now());
        attack(last);
        byte[] cookieReply = receive(Messages.COOKIE_REPLY, 999);
        assertEquals(Messages.COOKIE_REPLY_LENGTH, cookieReply.length);
        flood.consumeCookieReply(cookieReply, Instant.now());
        // With the cookie in MAC2 the flooder's initiations are taken again: a response comes back.
        long deadline = System.nanoTime() + Duration.ofSeconds(3).toNanos();
        byte[] response = null;
        while (response == null && System.nanoTime() < deadline) {
            attack(flood.createInitiation(1000, Instant.now()));
            response = poll(Messages.RESPONSE, 1000, Duration.ofMillis(100));
        }
        assertTrue(response != null, "a response once MAC2 carries the cookie: " + bob.drops());
        assertEquals(0L, dropped("internal error"));
    }

    /** The next message of a type addressed to {@code receiver}, within a second. */
    private byte[] receive(byte type, int receiver) throws Exception {
        byte[] m = poll(type, receiver, Duration.ofSeconds(1));
        assertTrue(m != null, "no message of type " + type + " for index " + receiver);
        return m;
    }

    private byte[] poll(byte type, int receiver, Duration wait) throws Exception {
        long end = System.nanoTime() + wait.toNanos();
        ByteBuffer buf = ByteBuffer.allocate(256);
        while (System.nanoTime() < end) {
            buf.clear();
            if (attacker.receive(buf) == null) {
                java.util.concurrent.locks.LockSupport.parkNanos(2_000_000);
                continue;
            }
            buf.flip();
            byte[] m = new byte[buf.remaining()];
            buf.get(m);
            if (m[0] == type && Messages.receiverIndex(m) == receiver) {
                return m;
            }
        }
        return null;
    }
}
