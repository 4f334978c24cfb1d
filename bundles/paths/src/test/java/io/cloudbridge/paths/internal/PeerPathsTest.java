package io.cloudbridge.paths.internal;

import static io.cloudbridge.paths.internal.PathsTestKit.await;
import static io.cloudbridge.paths.internal.PathsTestKit.config;
import static io.cloudbridge.paths.internal.PathsTestKit.relay;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.api.mesh.PathInfo;
import io.cloudbridge.api.mesh.PathKind;
import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.api.path.DatagramBatch;
import io.cloudbridge.api.path.DirectPath;
import io.cloudbridge.api.path.DirectPathSocket;
import io.cloudbridge.api.path.DirectPaths;
import io.cloudbridge.api.path.PathBinding;
import io.cloudbridge.paths.internal.PathsTestKit.TestSession;
import io.cloudbridge.paths.internal.PathsTestKit.TestTransport;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The seam as the engine and hole punching see it, on a real socket: which way a peer's message
 * goes (a direct path, the relay, the endpoint), where the socket's datagrams go (RFC 7983), and
 * what other paths carried.
 */
class PeerPathsTest {
    private static final NodeKey DIRECT_PEER = NodeKey.of(filled(1));
    private static final NodeKey RELAYED_PEER = NodeKey.of(filled(2));
    private static final byte[] COOKIE = {0x21, 0x12, (byte) 0xa4, 0x42};

    private final TestTransport quic = new TestTransport("quic", 10, "quic");
    private final RelayPaths paths = new RelayPaths(config(10_000, 100, 1000, 3000));

    @AfterEach
    void deactivate() {
        paths.deactivate();
    }

    private static byte[] filled(int b) {
        byte[] key = new byte[NodeKey.LENGTH];
        java.util.Arrays.fill(key, (byte) b);
        return key;
    }

    /** A finder with one confirmed direct path, to {@link #DIRECT_PEER}, that takes STUN-shaped datagrams. */
    private static final class Finder implements DirectPaths {
        final List<ByteBuffer> sentDirect = new CopyOnWriteArrayList<>();
        final List<InetSocketAddress> claimedFrom = new CopyOnWriteArrayList<>();
        volatile DirectPathSocket socket;
        volatile boolean confirmed = true;

        @Override
        public boolean claims(ByteBuffer d) {
            return d.remaining() >= 20 && (d.get(d.position()) & 0xc0) == 0 && d.get(d.position() + 4) == COOKIE[0]
                    && d.get(d.position() + 5) == COOKIE[1] && d.get(d.position() + 6) == COOKIE[2] && d.get(d.position() + 7) == COOKIE[3];
        }

        @Override
        public void receive(InetSocketAddress from, ByteBuffer datagram) {
            claimedFrom.add(from);
            ByteBuffer answer = ByteBuffer.allocate(20).put(0, (byte) 0x01).put(1, (byte) 0x01);
            answer.put(4, COOKIE[0]).put(5, COOKIE[1]).put(6, COOKIE[2]).put(7, COOKIE[3]);
            assertTrue(socket.send(from, answer));
        }

        @Override
        public Optional<DirectPath> pathTo(NodeKey peer) {
            if (!confirmed || !peer.equals(DIRECT_PEER)) {
                return Optional.empty();
            }
            return Optional.of(new DirectPath() {
                @Override
                public PathKind kind() {
                    return PathKind.DIRECT;
                }

                @Override
                public boolean send(ByteBuffer message) {
                    sentDirect.add(message);
                    return true;
                }
            });
        }

        @Override
        public Optional<PathInfo> info(NodeKey peer) {
            return peer.equals(DIRECT_PEER) && confirmed
                    ? Optional.of(new PathInfo(PathKind.DIRECT, Optional.of(Duration.ofMillis(3)), Optional.of("host -> host"), Optional.empty()))
                    : Optional.of(new PathInfo(PathKind.RELAY, Optional.empty(), Optional.empty(), Optional.of("no pair succeeded")));
        }
    }

    @Test
    void aConfirmedDirectPathWinsThenTheRelayThenTheEndpoint() throws Exception {
        Finder finder = new Finder();
        finder.socket = paths.attach(finder);
        ByteBuffer message = ByteBuffer.allocate(64);
        assertNull(paths.send(RELAYED_PEER, message), "no relay yet: the binding tries the endpoint");
        assertEquals(PathBinding.Sent.SENT, paths.send(DIRECT_PEER, message));
        assertEquals(1, finder.sentDirect.size());

        paths.addTransport(quic);
        paths.setHomeRelay(relay("quic"));
        await("quic dialled", () -> quic.opens.size() == 1);
        TestSession q = quic.connectLast();
        await("the peers over quic", () -> paths.send(RELAYED_PEER, message) != null);
        assertEquals(PathBinding.Sent.SENT, paths.send(RELAYED_PEER, message));
        assertTrue(q.sent >= 1);
        long relayed = q.sent;
        assertEquals(PathBinding.Sent.SENT, paths.send(DIRECT_PEER, message));
        assertEquals(relayed, q.sent, "the direct path, not the relay");

        finder.confirmed = false; // consent lost: back to the relay
        assertEquals(PathBinding.Sent.SENT, paths.send(DIRECT_PEER, message));
        assertEquals(relayed + 1, q.sent);
        assertEquals(PathKind.RELAY, paths.info(DIRECT_PEER).orElseThrow().kind());
        assertTrue(paths.info(DIRECT_PEER).orElseThrow().relayedReason().orElseThrow().contains("no pair succeeded"));

        finder.socket.close();
        finder.confirmed = true;
        assertEquals(PathBinding.Sent.SENT, paths.send(DIRECT_PEER, message));
        assertEquals(relayed + 2, q.sent, "a detached finder is not asked");
        assertTrue(paths.info(DIRECT_PEER).orElseThrow().relayedReason().orElseThrow().contains("hole punching is not installed"));
    }

    @Test
    void theSocketsStunGoesToTheFinderAndItsAnswerLeavesFromTheSameSocket() throws Exception {
        Finder finder = new Finder();
        finder.socket = paths.attach(finder);
        assertNull(finder.socket.localAddress(), "no socket before the engine binds");
        assertFalse(finder.socket.send(new InetSocketAddress("127.0.0.1", 9), ByteBuffer.allocate(20)));

        PathBinding binding = paths.bind(new InetSocketAddress("127.0.0.1", 0), "cbtest0");
        InetSocketAddress local = binding.localAddress();
        assertEquals(local, finder.socket.localAddress());
        List<ByteBuffer> arrived = new CopyOnWriteArrayList<>();
        PathBinding.Arrivals engine = new PathBinding.Arrivals() {
            @Override
            public void relayed(NodeKey sender, ByteBuffer message) {
                arrived.add(message);
            }

            @Override
            public void arrived(ByteBuffer message) {
                arrived.add(message);
            }
        };
        binding.start(engine);
        try (DatagramChannel checker = DatagramChannel.open().bind(new InetSocketAddress("127.0.0.1", 0))) {
            ByteBuffer stun = ByteBuffer.allocate(20).put(0, (byte) 0x00).put(1, (byte) 0x01);
            stun.put(4, COOKIE[0]).put(5, COOKIE[1]).put(6, COOKIE[2]).put(7, COOKIE[3]);
            checker.send(stun, local);
            byte[] wireGuard = new byte[32];
            wireGuard[0] = 4; // a transport message's type and three zero bytes
            checker.send(ByteBuffer.wrap(wireGuard), local);
            byte[] junk = {(byte) 0xc0, 1, 2, 3, 4, 5};
            checker.send(ByteBuffer.wrap(junk), local);

            DatagramBatch batch = new DatagramBatch(8, 64);
            long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
            while (batch.count() < 2 && System.nanoTime() < deadline) {
                binding.receive(batch);
            }
            assertEquals(2, batch.count(), "WireGuard's message and the junk (the engine counts that) reach the engine");
            assertEquals(32, batch.length(0));
            assertEquals(1, finder.claimedFrom.size(), "the STUN request went to the finder");
            ByteBuffer answer = ByteBuffer.allocate(64);
            assertEquals(local, checker.receive(answer), "answered from the overlay's own 5-tuple");
        }

        finder.socket.deliver(ByteBuffer.wrap(new byte[] {4, 0, 0, 0}), PathKind.TURN);
        assertEquals(1, arrived.size(), "what the finder's TURN allocation carried reaches the engine");

        PathBinding again = paths.bind(new InetSocketAddress("127.0.0.1", 0), "cbtest0");
        assertEquals(-1, binding.receive(new DatagramBatch(1, 64)), "a second binding closes the first");
        assertEquals(again.localAddress(), finder.socket.localAddress(), "the finder follows the new socket");
        again.start(engine);
        finder.socket.deliver(ByteBuffer.wrap(new byte[] {4, 0, 0, 0}), PathKind.MASQUE);
        assertEquals(2, arrived.size());
        paths.deactivate();
        assertEquals(-1, again.receive(new DatagramBatch(1, 64)), "the paths going away close their binding");
        assertEquals(PathBinding.Sent.FAILED, again.send(DIRECT_PEER, local, ByteBuffer.allocate(8)),
                "a closed binding sends nothing, not even by a route that needs no socket");
        finder.socket.deliver(ByteBuffer.wrap(new byte[] {4, 0, 0, 0}), PathKind.TURN);
        assertEquals(2, arrived.size(), "nor does it hand anything to the engine that held it");
        assertNull(finder.socket.localAddress());
    }

    @Test
    void theNodesAddressesAreWatchedOnceAndSharedWithTheFinders() {
        Finder finder = new Finder();
        finder.socket = paths.attach(finder);
        await("the finder sees the paths' look at the interfaces",
                () -> finder.socket.localAddresses().equals(NetworkMonitor.read(null)));
        assertTrue(finder.socket.localAddresses().stream().noneMatch(a -> a.isLoopbackAddress() || a.isLinkLocalAddress()));
    }
}
