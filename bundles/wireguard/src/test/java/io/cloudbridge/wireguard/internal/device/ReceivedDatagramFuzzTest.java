package io.cloudbridge.wireguard.internal.device;

import io.cloudbridge.paths.internal.OverlayBinding;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.cloudbridge.api.mesh.PathKind;
import io.cloudbridge.api.path.DirectPath;
import io.cloudbridge.api.net.IpPrefix;
import io.cloudbridge.wireguard.internal.noise.Handshake;
import io.cloudbridge.wireguard.internal.noise.Identity;
import io.cloudbridge.wireguard.internal.noise.Keypair;
import io.cloudbridge.wireguard.internal.noise.NoiseCrypto;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * Fuzz target for the WireGuard device's receive path, the entry point of every datagram a node
 * or gateway gets (from its UDP socket or a relay session): type and length checks, MAC1, the
 * initiation's decryption, responses, cookie replies, transport messages by index, and, inside an
 * authenticated session, the inner packet's header and cryptokey routing. Whatever arrives, the
 * device drops and counts it or delivers it; no exception escapes ({@code handle} is called
 * directly, so one would reach the fuzzer instead of the receive loop's catch-all).
 *
 * <p>The first byte of an input picks how the rest is sent: {@code 0} as it is; {@code 1} with a
 * valid MAC1 for the device's key put in (the fuzzer cannot compute BLAKE2s, and without it every
 * handshake message stops at the first check); {@code 2} sealed as the plaintext of a transport
 * message in a real session with the device's one peer.
 */
class ReceivedDatagramFuzzTest {
    private static final Instant NOW = Instant.parse("2026-11-25T10:00:00Z");
    private static final Identity DEVICE = new Identity(key(1));
    private static final Identity PEER = new Identity(key(2));
    private static WireGuardDevice device;
    private static Keypair session;
    private static final AtomicInteger delivered = new AtomicInteger();

    private static byte[] key(int seed) {
        byte[] k = new byte[32];
        Arrays.fill(k, (byte) seed);
        return k;
    }

    @BeforeAll
    static void deviceWithOnePeer() throws Exception {
        // A fixed clock: a long run must not outlive its session (REJECT_AFTER_TIME).
        OverlayBinding paths = new OverlayBinding(DatagramChannel.open());
        device = new WireGuardDevice(DEVICE, paths, (peer, packet, length) -> {
            assertTrue(length > 0 && length <= packet.length);
            // Cryptokey routing, inbound: only the peer's own addresses get through.
            String source = IpPackets.source(packet, length).getHostAddress();
            assertTrue(source.equals("10.0.0.2") || source.equals("fd00:0:0:0:0:0:0:2"), source);
            delivered.incrementAndGet();
        }, Clock.fixed(NOW, ZoneOffset.UTC));
        device.addPeer(PEER.publicKey(), null, List.of(IpPrefix.parse("10.0.0.2/32"), IpPrefix.parse("fd00::2/128")), null);
        // The peer's side of a handshake; the device's response comes back through the path.
        AtomicReference<byte[]> response = new AtomicReference<>();
        paths.setRoutes(TestRoutes.via(() -> new DirectPath() {
            @Override
            public PathKind kind() {
                return PathKind.RELAY;
            }

            @Override
            public boolean send(ByteBuffer packet) {
                byte[] b = new byte[packet.remaining()];
                packet.get(b);
                response.compareAndSet(null, b);
                return true;
            }
        }));
        Handshake peerSide = new Handshake(PEER, DEVICE.publicKey(), null);
        byte[] initiation = peerSide.createInitiation(7, NOW);
        device.handle(initiation, initiation.length, null);
        assertNotNull(response.get(), "the device answered the peer's initiation");
        session = peerSide.consumeResponse(response.get(), NOW);
    }

    @AfterAll
    static void close() throws Exception {
        device.close();
    }

    @FuzzTest
    void datagram(byte[] data) {
        if (data.length == 0) {
            return;
        }
        byte[] msg = Arrays.copyOfRange(data, 1, data.length);
        switch (data[0]) {
            case 1 -> withMac1(msg);
            case 2 -> msg = session.seal(msg);
            default -> {
            }
        }
        int before = delivered.get();
        // Twice the room, as the socket's buffer has: the length, not the array, bounds the message.
        byte[] buffer = Arrays.copyOf(msg, msg.length * 2 + 1);
        device.handle(buffer, msg.length, null);
        assertFalse(device.drops().containsKey("internal error"));
        if (delivered.get() > before) {
            assertEquals(2, data[0], "only a sealed packet of the peer's is delivered");
        }
    }

    /** The harness itself: its session is real, so the sealed seeds reach delivery, not a drop. */
    @org.junit.jupiter.api.Test
    void aSealedPacketOfThePeersIsDelivered() {
        byte[] echo = new byte[29];
        echo[0] = 2;
        echo[1] = 0x45;
        echo[4] = 28;
        echo[10] = 1;
        echo[13] = 10;
        echo[16] = 2;
        echo[17] = 10;
        echo[20] = 1;
        int before = delivered.get();
        datagram(echo);
        assertEquals(before + 1, delivered.get(), device.drops().toString());
    }

    private static void withMac1(byte[] msg) {
        if (msg.length < 32) {
            return;
        }
        byte[] mac1Key = NoiseCrypto.hash("mac1----".getBytes(java.nio.charset.StandardCharsets.US_ASCII), DEVICE.publicKey());
        int at = msg.length - 32;
        System.arraycopy(NoiseCrypto.mac(mac1Key, msg, at), 0, msg, at, 16);
    }
}
