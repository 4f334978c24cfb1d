package io.cloudbridge.ice.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.api.mesh.PathInfo;
import io.cloudbridge.api.mesh.PathKind;
import io.cloudbridge.api.net.NodeKey;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Two engines on two real UDP sockets on loopback, their offers passed as the signalling stream
 * would: they find the direct path, keep it with consent checks, drop it when one side stops
 * hearing, and find it again once it hears again.
 */
class IceEngineTest {
    private static final IceEngine.Timers FAST = new IceEngine.Timers(Duration.ofMillis(10), Duration.ofSeconds(2),
            Duration.ofMillis(100), Duration.ofMillis(600), Duration.ofMillis(200), Duration.ofSeconds(2), Duration.ofMillis(300),
            Duration.ofSeconds(20), Duration.ofSeconds(1));

    /** One node: a socket, its receive thread, its engine. */
    static final class Node implements AutoCloseable {
        final NodeKey key;
        final DatagramChannel channel;
        final AtomicBoolean deaf = new AtomicBoolean();
        final AtomicInteger wireGuardLike = new AtomicInteger();
        /** A firewall in front of the node: datagrams from addresses it refuses are never heard. */
        volatile java.util.function.Predicate<InetSocketAddress> hears = from -> true;
        /** WireGuard-like packets that came through a TURN allocation, unwrapped by the engine. */
        final AtomicInteger relayedIn = new AtomicInteger();
        List<IceEngine.TurnServer> turnServers = List.of();
        IceEngine.Timers timers = FAST;
        /** A stream that broke under the sender: what it sends is accepted and never arrives. */
        final AtomicBoolean signallingLoses = new AtomicBoolean();
        IceEngine engine;
        /** Its path attempts, on a registry of its own. */
        final PathMeters meters = new PathMeters();
        final SimpleMeterRegistry registry = new SimpleMeterRegistry();
        final Thread reader;

        Node(byte keyByte) throws IOException {
            byte[] k = new byte[32];
            k[0] = keyByte;
            key = NodeKey.of(k);
            channel = DatagramChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            meters.bind(registry);
            reader = new Thread(() -> {
                ByteBuffer buf = ByteBuffer.allocate(2048);
                while (channel.isOpen()) {
                    try {
                        buf.clear();
                        InetSocketAddress from = (InetSocketAddress) channel.receive(buf);
                        buf.flip();
                        if (deaf.get() || !hears.test(from)) {
                            continue; // a firewall rule dropping everything this node would hear
                        }
                        if (IceWire.isStun(buf) || IceWire.isChannelData(buf)) {
                            engine.onDatagram(from, buf);
                        } else {
                            wireGuardLike.incrementAndGet();
                        }
                    } catch (IOException e) {
                        return;
                    }
                }
            });
        }

        /** What {@code cloudbridge.path.attempts} says for this kind and outcome. */
        double attempts(String kind, String outcome) {
            return registry.get("cloudbridge.path.attempts").tags("kind", kind, "outcome", outcome).functionCounter().count();
        }

        Timer establish(String kind) {
            return registry.get("cloudbridge.path.establish").tag("kind", kind).timer();
        }

        void start(Node other, List<InetSocketAddress> stun) {
            engine = new IceEngine(key, new IceEngine.Socket() {
                @Override
                public boolean send(InetSocketAddress to, ByteBuffer datagram) {
                    try {
                        return channel.send(datagram, to) > 0;
                    } catch (IOException e) {
                        return false;
                    }
                }

                @Override
                public int localPort() {
                    return channel.socket().getLocalPort();
                }
            }, (to, offer) -> {
                if (!signallingLoses.get()) {
                    other.engine.onOffer(key, offer);
                }
                return true;
            }, timers, () -> List.of(InetAddress.getLoopbackAddress()), () -> stun, () -> turnServers,
                    Executors.newSingleThreadScheduledExecutor(), meters);
            engine.onOtherBasePacket((packet, kind) -> relayedIn.incrementAndGet());
            engine.start();
            reader.start();
        }

        @Override
        public void close() throws IOException {
            if (engine != null) {
                engine.stop();
            }
            channel.close();
        }
    }

    private Node alpha;
    private Node bravo;

    @AfterEach
    void close() throws IOException {
        if (alpha != null) {
            alpha.close();
        }
        if (bravo != null) {
            bravo.close();
        }
    }

    @Test
    void findsKeepsLosesAndFindsAgainTheDirectPath() {
        try {
            alpha = new Node((byte) 1);
            bravo = new Node((byte) 2);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        alpha.start(bravo, List.of());
        bravo.start(alpha, List.of());
        alpha.engine.setPeers(List.of(bravo.key));
        bravo.engine.setPeers(List.of(alpha.key));

        long started = System.nanoTime();
        await(Duration.ofSeconds(3), "both sides have the direct path", () -> direct(alpha, bravo) && direct(bravo, alpha));
        long found = System.nanoTime() - started;
        PathInfo info = alpha.engine.info(bravo.key).orElseThrow();
        assertEquals("host 127.0.0.1:" + alpha.channel.socket().getLocalPort() + " -> host 127.0.0.1:"
                + bravo.channel.socket().getLocalPort(), info.candidatePair().orElseThrow());
        assertTrue(found < Duration.ofSeconds(2).toNanos(), "found after " + found / 1_000_000 + " ms");
        for (Node n : List.of(alpha, bravo)) {
            assertEquals(1, n.attempts("direct", "established"), "one attempt, one direct path");
            assertEquals(0, n.attempts("turn", "established") + n.attempts("masque", "established") + n.attempts("direct", "failed"));
            assertEquals(1, n.establish("direct").count());
            double tookMillis = n.establish("direct").totalTime(java.util.concurrent.TimeUnit.MILLISECONDS);
            assertTrue(tookMillis > 0 && tookMillis <= found / 1e6, "from the first checks to the selection: " + tookMillis + " ms");
            assertEquals(PathMeters.ESTABLISH_BUCKETS.length, n.establish("direct").takeSnapshot().histogramCounts().length,
                    "the buckets histogram_quantile reads");
        }

        // The direct path carries packets to the other's socket, beside the checks.
        int before = bravo.wireGuardLike.get();
        alpha.engine.directPath(bravo.key).orElseThrow().send(ByteBuffer.wrap(new byte[] {4, 0, 0, 0, 9, 9, 9, 9}));
        await(Duration.ofSeconds(1), "the packet arrives", () -> bravo.wireGuardLike.get() == before + 1);

        // Consent keeps it while both answer: well past the consent timeout, still direct.
        long kept = System.nanoTime() + Duration.ofMillis(1200).toNanos();
        await(Duration.ofSeconds(2), "time passes", () -> System.nanoTime() > kept && direct(alpha, bravo) && direct(bravo, alpha));

        // bravo hears nothing: both give the path up within the consent timeout and a bit.
        bravo.deaf.set(true);
        long cut = System.nanoTime();
        await(Duration.ofSeconds(2), "both fall back", () -> !direct(alpha, bravo) && !direct(bravo, alpha));
        assertTrue(System.nanoTime() - cut < Duration.ofMillis(1500).toNanos());
        assertEquals(PathKind.RELAY, alpha.engine.info(bravo.key).orElseThrow().kind());
        assertTrue(alpha.engine.info(bravo.key).orElseThrow().relayedReason().orElseThrow().contains("stopped answering"),
                alpha.engine.info(bravo.key).toString());
        for (Node n : List.of(alpha, bravo)) {
            assertEquals(1, n.registry.get("cloudbridge.path.losses").tag("kind", "direct").functionCounter().count());
            assertEquals(1, n.attempts("direct", "established"), "a loss is no attempt");
        }

        bravo.deaf.set(false);
        await(Duration.ofSeconds(4), "the direct path is found again", () -> direct(alpha, bravo) && direct(bravo, alpha));
        for (Node n : List.of(alpha, bravo)) {
            assertEquals(2, n.attempts("direct", "established"), "found again: a second attempt");
            assertEquals(2, n.establish("direct").count());
        }

        alpha.meters.unbind(alpha.registry);
        assertEquals(List.of(), alpha.registry.getMeters(), "the meters go with the registry");
    }

    /**
     * Offers that went into a signalling stream as it broke are lost; when signalling is back they
     * go again at once, not at the offer retry (20 s here): a node that moved has 2 s.
     */
    @Test
    void offersLostInABrokenSignallingStreamGoAgainWhenItReconnects() throws IOException {
        alpha = new Node((byte) 1);
        bravo = new Node((byte) 2);
        IceEngine.Timers slowOfferRetry = new IceEngine.Timers(FAST.tick(), FAST.checkTimeout(), FAST.consentInterval(),
                FAST.consentTimeout(), FAST.retryMin(), FAST.retryMax(), Duration.ofSeconds(20), FAST.stunRefresh(), FAST.turnRefresh());
        alpha.timers = slowOfferRetry;
        bravo.timers = slowOfferRetry;
        alpha.signallingLoses.set(true);
        bravo.signallingLoses.set(true);
        alpha.start(bravo, List.of());
        bravo.start(alpha, List.of());
        alpha.engine.setPeers(List.of(bravo.key));
        bravo.engine.setPeers(List.of(alpha.key));
        long quiet = System.nanoTime() + Duration.ofMillis(500).toNanos();
        await(Duration.ofSeconds(2), "half a second without offers", () -> System.nanoTime() > quiet);
        assertFalse(direct(alpha, bravo) || direct(bravo, alpha), "no offer crossed, so no path");

        alpha.signallingLoses.set(false);
        bravo.signallingLoses.set(false);
        long reconnected = System.nanoTime();
        alpha.engine.resendUnansweredOffers();
        await(Duration.ofSeconds(3), "both sides have the direct path", () -> direct(alpha, bravo) && direct(bravo, alpha));
        long took = (System.nanoTime() - reconnected) / 1_000_000;
        assertTrue(took < 2000, "direct " + took + " ms after signalling came back (the offer retry is 20 s)");
    }

    @Test
    void aPeerThatNeverAnswersStaysRelayedWithAReason() throws IOException {
        alpha = new Node((byte) 1);
        bravo = new Node((byte) 2);
        alpha.start(bravo, List.of());
        bravo.start(alpha, List.of());
        bravo.deaf.set(true);
        alpha.engine.setPeers(List.of(bravo.key));
        bravo.engine.setPeers(List.of(alpha.key));
        await(Duration.ofSeconds(4), "alpha gives up the round",
                () -> alpha.engine.info(bravo.key).flatMap(PathInfo::relayedReason).orElse("").startsWith("no candidate pair succeeded"));
        assertEquals(PathKind.RELAY, alpha.engine.info(bravo.key).orElseThrow().kind());
        assertTrue(alpha.attempts("direct", "failed") >= 1, "the round that gave up is a failed attempt");
        assertEquals(0, alpha.attempts("direct", "established"));
        assertEquals(0, alpha.establish("direct").count(), "nothing established, nothing timed");
    }

    /**
     * Bad input on the shared socket: junk with STUN's cookie, truncated and oversized messages,
     * checks for credentials nobody issued, answers to nothing. None is answered (no reflection),
     * each is counted, and the direct path carries on.
     */
    @Test
    void junkAndUnauthenticatedChecksAreDroppedUnansweredAndThePathCarriesOn() throws Exception {
        alpha = new Node((byte) 1);
        bravo = new Node((byte) 2);
        alpha.start(bravo, List.of());
        bravo.start(alpha, List.of());
        alpha.engine.setPeers(List.of(bravo.key));
        bravo.engine.setPeers(List.of(alpha.key));
        await(Duration.ofSeconds(3), "the direct path", () -> direct(alpha, bravo) && direct(bravo, alpha));

        IceWire wire = new IceWire();
        try (DatagramChannel attacker = DatagramChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
            InetSocketAddress target = (InetSocketAddress) alpha.channel.getLocalAddress();
            // The crafted cases first, each counted before the flood (which may overflow the socket's buffer).
            byte[] check = wire.check(new byte[12], "nobody:attacker", "a-password-nobody-issued", 1, true, 1, true);
            attacker.send(ByteBuffer.wrap(check), target);
            attacker.send(ByteBuffer.wrap(java.util.Arrays.copyOf(check, check.length - 8)), target); // truncated
            byte[] answer = wire.success((org.ice4j.message.Request) IceWire.decode(ByteBuffer.wrap(check)).message(),
                    new InetSocketAddress(InetAddress.getLoopbackAddress(), 9), "nobody", "a-password-nobody-issued");
            attacker.send(ByteBuffer.wrap(answer), target);
            byte[] oversized = new byte[IceWire.MAX_MESSAGE + 100];
            ByteBuffer.wrap(oversized).putInt(4, IceWire.MAGIC_COOKIE);
            attacker.send(ByteBuffer.wrap(oversized), target);
            await(Duration.ofSeconds(3), "each crafted case counted", () -> alpha.engine.drops().getOrDefault("malformed STUN", 0L) >= 1
                    && alpha.engine.drops().getOrDefault("check for no session of ours", 0L) >= 1
                    && alpha.engine.drops().getOrDefault("answer to no request of ours", 0L) >= 1);
            java.util.Random random = new java.util.Random(7);
            for (int i = 0; i < 2000; i++) {
                byte[] junk = new byte[20 + random.nextInt(120)];
                random.nextBytes(junk);
                junk[0] &= 0x3f;
                ByteBuffer.wrap(junk).putInt(4, IceWire.MAGIC_COOKIE);
                attacker.send(ByteBuffer.wrap(junk), target);
            }
            await(Duration.ofSeconds(3), "the flood counted", () -> alpha.engine.drops().getOrDefault("malformed STUN", 0L) > 100);
            attacker.configureBlocking(false);
            assertEquals(null, attacker.receive(ByteBuffer.allocate(2048)), "an unauthenticated sender got an answer");
        } finally {
            wire.close();
        }
        // Well past the consent timeout: the path held through it.
        long later = System.nanoTime() + Duration.ofMillis(800).toNanos();
        await(Duration.ofSeconds(2), "still direct", () -> System.nanoTime() > later && direct(alpha, bravo) && direct(bravo, alpha));
        System.out.println("dropped: " + alpha.engine.drops());
    }

    private static boolean direct(Node from, Node to) {
        return from.engine.directPath(to.key).isPresent();
    }

    static String state(Node n, Node other) {
        return n == null || n.engine == null ? "-" : n.engine.info(other.key) + " drops " + n.engine.drops();
    }

    void await(Duration limit, String what, BooleanSupplier condition) {
        await(limit, what, condition, () -> "alpha: " + state(alpha, bravo) + "; bravo: " + state(bravo, alpha));
    }

    /** Polls every 5 ms until {@code condition} holds; past {@code limit}, fails with what the engines say. */
    static void await(Duration limit, String what, BooleanSupplier condition, java.util.function.Supplier<String> state) {
        long end = System.nanoTime() + limit.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("not within " + limit.toMillis() + " ms: " + what + "; " + state.get());
            }
            LockSupport.parkNanos(5_000_000);
        }
    }
}
