package io.cloudbridge.paths.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.cloudbridge.api.path.DatagramBatch;
import io.cloudbridge.api.path.PathBinding;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The overlay's sockets on loopback: the epoll one (bursts a system call, UDP GSO and GRO; and
 * without them) against the JDK's and itself, in order and byte for byte; datagrams that are not
 * WireGuard's to the claims; malformed, truncated and oversized datagrams; reading paused and
 * resumed while the engine is slow; a closed socket.
 */
class OverlaySocketTest {
    private static final InetSocketAddress LOOPBACK = new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);

    /** A WireGuard-shaped message (type 4, transport data) of {@code length} bytes carrying {@code sequence}. */
    private static ByteBuffer message(int sequence, int length) {
        byte[] m = new byte[length];
        m[0] = 4;
        ByteBuffer.wrap(m).putInt(4, sequence);
        for (int i = 8; i < length; i++) {
            m[i] = (byte) (sequence * 31 + i);
        }
        return ByteBuffer.wrap(m);
    }

    private static ByteBuffer[] burst(int count, int length, int lastLength) {
        ByteBuffer[] messages = new ByteBuffer[count];
        for (int i = 0; i < count; i++) {
            messages[i] = message(i, i == count - 1 ? lastLength : length);
        }
        return messages;
    }

    private static OverlaySocket epoll(boolean offload, OverlaySocket.Others others) throws Exception {
        assumeTrue(EpollOverlaySocket.available(), "epoll: " + EpollOverlaySocket.unavailability());
        return EpollOverlaySocket.bind(LOOPBACK, others, offload);
    }

    /** Receives until {@code count} datagrams came (or 5 s passed): their bytes, in arrival order. */
    private static List<byte[]> receive(OverlaySocket socket, int count) throws Exception {
        return receive(socket, count, new ArrayList<>());
    }

    /** As {@link #receive(OverlaySocket, int)}, adding each datagram's source to {@code sources}. */
    private static List<byte[]> receive(OverlaySocket socket, int count, List<InetSocketAddress> sources) throws Exception {
        List<byte[]> got = new ArrayList<>();
        DatagramBatch batch = new DatagramBatch(64, 2048);
        long end = System.nanoTime() + 5_000_000_000L;
        while (got.size() < count && System.nanoTime() < end) {
            batch.clear();
            assertTrue(socket.receive(batch) >= 0);
            for (int i = 0; i < batch.count(); i++) {
                got.add(Arrays.copyOf(batch.slot(i), batch.length(i)));
                sources.add(batch.source(i));
            }
        }
        return got;
    }

    private static void assertSame(ByteBuffer[] sent, List<byte[]> got) {
        assertEquals(sent.length, got.size(), "datagrams");
        for (int i = 0; i < sent.length; i++) {
            assertArrayEquals(sent[i].array(), got.get(i), "datagram " + i);
        }
    }

    @ParameterizedTest(name = "UDP GSO and GRO asked for: {0}")
    @ValueSource(booleans = {true, false})
    void aBurstToOnePeerArrivesWholeAndInOrderAtTheJdksSocketAndAtItself(boolean offload) throws Exception {
        try (OverlaySocket sender = epoll(offload, (from, d) -> false);
                OverlaySocket jdk = new JdkOverlaySocket(DatagramChannel.open().bind(LOOPBACK), (from, d) -> false);
                OverlaySocket epoll = epoll(offload, (from, d) -> false)) {
            if (offload) {
                assertTrue(((EpollOverlaySocket) sender).gso(), "this kernel has UDP GSO (Linux 4.18)");
                assertTrue(((EpollOverlaySocket) epoll).gro(), "this kernel has UDP GRO (Linux 5.0)");
            }
            // 45 segments of a TCP send (1,452-byte messages under a 1,420 MTU), the last one shorter;
            // more than one GSO send can carry (65,000 bytes), so the burst is cut in two.
            ByteBuffer[] messages = burst(60, 1452, 700);
            assertEquals(60, sender.send(messages, 0, 60, jdk.localAddress()));
            assertSame(messages, receive(jdk, 60));
            assertEquals(60, sender.send(messages, 0, 60, epoll.localAddress()));
            assertSame(messages, receive(epoll, 60));
            // Unequal sizes cannot be one GSO datagram: they leave one by one, in one sendmmsg.
            ByteBuffer[] mixed = {message(1, 100), message(2, 1452), message(3, 64), message(4, 1452)};
            assertEquals(4, sender.send(mixed, 0, 4, epoll.localAddress()));
            assertSame(mixed, receive(epoll, 4));
            for (ByteBuffer m : messages) {
                assertEquals(0, m.position(), "the caller's buffers are left as they were");
            }
        }
    }

    @Test
    void aJdkSendersDatagramsArriveInOrderWithTheirSource() throws Exception {
        try (OverlaySocket epoll = epoll(true, (from, d) -> false); DatagramChannel sender = DatagramChannel.open().bind(LOOPBACK)) {
            ByteBuffer[] messages = burst(100, 1200, 1200);
            for (ByteBuffer m : messages) {
                sender.send(m.duplicate(), epoll.localAddress());
            }
            List<InetSocketAddress> sources = new ArrayList<>();
            assertSame(messages, receive(epoll, 100, sources));
            assertEquals(List.of(sender.getLocalAddress()), sources.stream().distinct().toList());
        }
    }

    /**
     * Bad input on the epoll socket: STUN goes to the claims; empty, short (not WireGuard-shaped, not
     * claimed), oversized (the largest UDP datagram) and garbage datagrams reach the engine as they
     * came, for it to refuse; the socket goes on working.
     */
    @Test
    void badAndForeignDatagramsGoWhereTheJdkSocketSendsThemAndNothingBreaks() throws Exception {
        List<byte[]> claimed = new CopyOnWriteArrayList<>();
        OverlaySocket.Others others = (from, d) -> {
            byte[] copy = new byte[d.remaining()];
            d.duplicate().get(copy);
            if (copy.length >= 20 && copy[0] == 0 && copy[1] == 1) { // a STUN binding request
                claimed.add(copy);
                return true;
            }
            return false;
        };
        try (OverlaySocket epoll = epoll(true, others); DatagramChannel sender = DatagramChannel.open().bind(LOOPBACK)) {
            byte[] stun = new byte[20];
            stun[1] = 1;
            ByteBuffer.wrap(stun).putInt(4, 0x2112A442);
            byte[] huge = new byte[65_507];
            huge[0] = 4;
            huge[huge.length - 1] = 7;
            byte[] garbage = new byte[300];
            new java.util.Random(5).nextBytes(garbage);
            garbage[0] = (byte) 0xff;
            List<byte[]> sent = List.of(stun, new byte[0], new byte[] {4, 0, 0}, huge, garbage, message(9, 148).array());
            for (byte[] d : sent) {
                sender.send(ByteBuffer.wrap(d), epoll.localAddress());
            }
            List<byte[]> got = receive(epoll, 5);
            assertEquals(1, claimed.size());
            assertArrayEquals(stun, claimed.get(0));
            assertEquals(5, got.size());
            for (int i = 0; i < 5; i++) {
                assertArrayEquals(sent.get(i + 1), got.get(i), "datagram " + (i + 1));
            }
        }
    }

    /** The engine reads slower than datagrams come: the socket stops reading (the kernel holds them) and reads on after. */
    @Test
    void readingPausesWhileTheEngineIsBehindAndResumesWithNothingLost() throws Exception {
        try (OverlaySocket epoll = epoll(true, (from, d) -> false); DatagramChannel sender = DatagramChannel.open().bind(LOOPBACK)) {
            ByteBuffer[] messages = burst(400, 64, 64);
            for (ByteBuffer m : messages) {
                sender.send(m.duplicate(), epoll.localAddress());
            }
            // The socket's thread queues what it may, then stops reading; the kernel holds the rest.
            long end = System.nanoTime() + 5_000_000_000L;
            while (!((EpollOverlaySocket) epoll).readingPaused() && System.nanoTime() < end) {
                Thread.onSpinWait();
            }
            assertTrue(((EpollOverlaySocket) epoll).readingPaused(), "reading paused with 256 datagrams queued");
            assertSame(messages, receive(epoll, 400));
            assertTrue(!((EpollOverlaySocket) epoll).readingPaused(), "reading resumed");
        }
    }

    @Test
    void aClosedSocketSaysSoAndTheBindingRefuses() throws Exception {
        OverlayBinding binding = OverlayBinding.open(LOOPBACK, true);
        InetSocketAddress somewhere = binding.localAddress();
        binding.close();
        assertEquals(-1, binding.receive(new DatagramBatch(4, 2048)));
        assertEquals(PathBinding.Sent.FAILED, binding.send(null, somewhere, message(1, 100)));
        PathBinding.Sent[] outcomes = new PathBinding.Sent[2];
        binding.send(null, somewhere, new ByteBuffer[] {message(1, 100), message(2, 100)}, 0, 2, outcomes);
        assertEquals(List.of(PathBinding.Sent.FAILED, PathBinding.Sent.FAILED), Arrays.asList(outcomes));
    }

    /** The engine binds 0.0.0.0 by default: as the JDK's socket, the epoll one then reaches IPv6 peers too (one dual-stack socket). */
    @Test
    void aSocketBoundToTheIpv4WildcardReachesIpv6PeersAsTheJdksDoes() throws Exception {
        try (OverlayBinding wildcard = OverlayBinding.open(new InetSocketAddress("0.0.0.0", 0), true);
                OverlaySocket v6 = new JdkOverlaySocket(DatagramChannel.open().bind(new InetSocketAddress("::1", 0)), (f, d) -> false)) {
            ByteBuffer[] messages = burst(3, 200, 100);
            PathBinding.Sent[] outcomes = new PathBinding.Sent[3];
            wildcard.send(null, v6.localAddress(), messages, 0, 3, outcomes);
            assertEquals(List.of(PathBinding.Sent.SENT), Arrays.stream(outcomes).distinct().toList());
            assertSame(messages, receive(v6, 3));
        }
    }

    /** Batching off, or no epoll: the JDK's socket under the same binding. */
    @Test
    void withoutBatchingTheBindingTakesTheJdksSocket() throws Exception {
        try (OverlayBinding jdk = OverlayBinding.open(LOOPBACK, false); OverlayBinding receiver = OverlayBinding.open(LOOPBACK, true)) {
            assertTrue(jdk.socket() instanceof JdkOverlaySocket);
            ByteBuffer[] messages = burst(10, 500, 200);
            PathBinding.Sent[] outcomes = new PathBinding.Sent[10];
            jdk.send(null, receiver.localAddress(), messages, 0, 10, outcomes);
            assertEquals(List.of(PathBinding.Sent.SENT), Arrays.stream(outcomes).distinct().toList());
            assertSame(messages, receive(receiver.socket(), 10));
        }
    }
}
