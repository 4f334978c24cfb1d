package io.cloudbridge.ice.internal;

import static io.cloudbridge.ice.internal.IceEngineTest.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.api.mesh.PathInfo;
import io.cloudbridge.api.mesh.PathKind;
import io.cloudbridge.testing.Requirements;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Relayed candidates from a real TURN server (coturn, long-term credentials) on loopback: where a
 * firewall keeps two engines from reaching each other directly, the pair through alpha's
 * allocation carries the checks and WireGuard's packets both ways; a wrong password is reported
 * and leaves the peer to the relay; junk that looks like TURN is dropped and counted.
 */
class TurnTest {
    private static final String USER = "cb";
    private static final String PASSWORD = "turn-secret";
    @TempDir
    static Path work;
    static Process coturn;
    static InetSocketAddress server;

    private IceEngineTest.Node alpha;
    private IceEngineTest.Node bravo;

    private static Path turnserver;

    @BeforeAll
    static void startCoturn() throws Exception {
        turnserver = Requirements.requireTool("turnserver", "apt-get install coturn");
        server = new InetSocketAddress(InetAddress.getLoopbackAddress(), freeUdpPort());
        coturn = coturn(server, "coturn");
    }

    /**
     * A port free for UDP and for TCP: coturn listens on both, and a TCP port taken by another
     * process's connection made its start fail ("Address already in use") on a busy machine.
     */
    private static int freeUdpPort() throws IOException {
        for (int attempt = 0;; attempt++) {
            try (DatagramChannel probe = DatagramChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
                int port = probe.socket().getLocalPort();
                try (java.net.ServerSocket tcp = new java.net.ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
                    return port;
                } catch (IOException takenForTcp) {
                    if (attempt == 20) {
                        throw takenForTcp;
                    }
                }
            }
        }
    }

    /** A coturn on {@code at} with long-term credentials, answering STUN when this returns. */
    private static Process coturn(InetSocketAddress at, String name) throws Exception {
        Process p = new ProcessBuilder(turnserver.toString(), "-n", "--no-cli", "--no-tls", "--no-dtls", "--listening-ip", "127.0.0.1",
                "--listening-port", String.valueOf(at.getPort()), "--relay-ip", "127.0.0.1", "--min-port", "40000", "--max-port", "40999",
                "--lt-cred-mech", "--user", USER + ":" + PASSWORD, "--realm", "cloudbridge.test", "--allow-loopback-peers",
                "--userdb", work.resolve(name + ".db").toString(), "--pidfile", work.resolve(name + ".pid").toString(), "--log-file", "stdout")
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(work.resolve("coturn.log").toFile())).start();
        // Ready when it answers a Binding request.
        IceWire wire = new IceWire();
        try (DatagramChannel client = DatagramChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
            client.configureBlocking(false);
            ByteBuffer in = ByteBuffer.allocate(1500);
            long[] lastSent = {0};
            await(Duration.ofSeconds(10), "coturn answers STUN", () -> {
                try {
                    if (System.nanoTime() - lastSent[0] > 100_000_000L) {
                        lastSent[0] = System.nanoTime();
                        client.send(ByteBuffer.wrap(wire.bindingRequest(new byte[12])), at);
                    }
                    in.clear();
                    return client.receive(in) != null;
                } catch (IOException e) {
                    return false;
                }
            }, () -> coturnLog());
        } finally {
            wire.close();
        }
        return p;
    }

    @AfterAll
    static void stopCoturn() throws InterruptedException {
        if (coturn != null) {
            coturn.destroy();
            coturn.waitFor();
        }
    }

    @AfterEach
    void close() throws IOException {
        if (alpha != null) {
            alpha.close();
        }
        if (bravo != null) {
            bravo.close();
        }
    }

    /**
     * Alpha with {@code turn} as its TURN server (under {@code password}), bravo without; with
     * {@code firewalled}, bravo's firewall refuses alpha's own socket, so only the TURN server's
     * relayed address gets through. Both started, each with the other as its peer.
     */
    private void startPair(InetSocketAddress turn, String password, boolean firewalled) throws IOException {
        alpha = new IceEngineTest.Node((byte) 1);
        bravo = new IceEngineTest.Node((byte) 2);
        if (firewalled) {
            InetSocketAddress alphaSocket = (InetSocketAddress) alpha.channel.getLocalAddress();
            bravo.hears = from -> !from.equals(alphaSocket);
        }
        alpha.turnServers = List.of(new IceEngine.TurnServer(turn, USER, password));
        alpha.start(bravo, List.of());
        bravo.start(alpha, List.of());
        alpha.engine.setPeers(List.of(bravo.key));
        bravo.engine.setPeers(List.of(alpha.key));
    }

    /** Alpha with the shared coturn as TURN server and bravo without, started but not yet peers; returns once alpha has its allocation. */
    private void startAllocated() throws IOException {
        alpha = new IceEngineTest.Node((byte) 1);
        bravo = new IceEngineTest.Node((byte) 2);
        alpha.turnServers = List.of(new IceEngine.TurnServer(server, USER, PASSWORD));
        alpha.start(bravo, List.of());
        bravo.start(alpha, List.of());
        await(Duration.ofSeconds(3), "the allocation", () -> alpha.engine.turnStates().toString().contains("relayed address"), this::state);
    }

    @Test
    void aFirewalledPeerIsReachedThroughTheRelayedCandidateBothWays() throws IOException {
        startPair(server, PASSWORD, true);

        await(Duration.ofSeconds(8), "both sides select a pair through alpha's allocation",
                () -> kind(alpha, bravo) == PathKind.TURN && kind(bravo, alpha) == PathKind.TURN, this::state);
        PathInfo a = alpha.engine.info(bravo.key).orElseThrow();
        assertTrue(a.candidatePair().orElseThrow().startsWith("relay 127.0.0.1:"), a.toString());
        assertTrue(a.relayedReason().orElseThrow().contains("TURN server 127.0.0.1:" + server.getPort()), a.toString());
        PathInfo b = bravo.engine.info(alpha.key).orElseThrow();
        assertTrue(b.candidatePair().orElseThrow().contains("-> relay 127.0.0.1:"), b.toString());
        assertTrue(alpha.engine.turnStates().get(0).contains("relayed address 127.0.0.1:"), alpha.engine.turnStates().toString());
        for (IceEngineTest.Node n : List.of(alpha, bravo)) {
            assertEquals(1, n.attempts("turn", "established"), "the attempt selected a pair through TURN");
            assertEquals(0, n.attempts("direct", "established"));
            assertEquals(1, n.establish("turn").count());
        }

        // WireGuard's packets both ways: alpha's go out in ChannelData, bravo's come back unwrapped.
        byte[] packet = {4, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8};
        for (int i = 0; i < 3; i++) {
            alpha.engine.directPath(bravo.key).orElseThrow().send(ByteBuffer.wrap(packet));
            bravo.engine.directPath(alpha.key).orElseThrow().send(ByteBuffer.wrap(packet));
        }
        await(Duration.ofSeconds(2), "three packets each way", () -> bravo.wireGuardLike.get() == 3 && alpha.relayedIn.get() == 3,
                this::state);
        // Consent through the allocation keeps the pair well past the consent timeout.
        long later = System.nanoTime() + Duration.ofMillis(900).toNanos();
        await(Duration.ofSeconds(2), "still through TURN", () -> System.nanoTime() > later && kind(alpha, bravo) == PathKind.TURN,
                this::state);
    }

    @Test
    void withoutTheFirewallTheDirectPairWinsOverTheRelayedOne() throws IOException {
        startAllocated();
        alpha.engine.setPeers(List.of(bravo.key));
        bravo.engine.setPeers(List.of(alpha.key));
        await(Duration.ofSeconds(3), "direct both ways", () -> kind(alpha, bravo) == PathKind.DIRECT && kind(bravo, alpha) == PathKind.DIRECT,
                this::state);
        // The relayed pairs answered too, later or not, and were not nominated over it.
        long later = System.nanoTime() + Duration.ofMillis(1500).toNanos();
        await(Duration.ofSeconds(3), "still direct", () -> System.nanoTime() > later && kind(alpha, bravo) == PathKind.DIRECT
                && kind(bravo, alpha) == PathKind.DIRECT, this::state);
    }

    @Test
    void aWrongPasswordIsReportedAndThePeerStaysRelayed() throws IOException {
        startPair(server, "not-the-password", true);
        await(Duration.ofSeconds(3), "the refusal reported", () -> alpha.engine.turnStates().toString().contains("refused: 401"),
                this::state);
        await(Duration.ofSeconds(4), "alpha gives up the round", () -> alpha.engine.info(bravo.key).flatMap(PathInfo::relayedReason)
                .orElse("").startsWith("no candidate pair succeeded"), this::state);
        assertEquals(PathKind.RELAY, kind(alpha, bravo));
        assertFalse(alpha.engine.info(bravo.key).orElseThrow().relayedReason().orElseThrow().contains("relay"),
                "no relayed candidate was offered: " + alpha.engine.info(bravo.key));
    }

    /**
     * The server forgets the allocation (here it restarts; in the field a NAT's mapping changes,
     * or the server closes the session): the next refresh is refused, a new allocation is made,
     * and the peer hears of the new relayed candidate and reaches alpha through it again.
     */
    @Test
    void anAllocationTheServerForgotIsMadeAgainAndThePathFollows() throws Exception {
        InetSocketAddress own = new InetSocketAddress(InetAddress.getLoopbackAddress(), freeUdpPort());
        Process restartable = coturn(own, "restartable");
        try {
            startPair(own, PASSWORD, true);
            await(Duration.ofSeconds(8), "through TURN", () -> kind(alpha, bravo) == PathKind.TURN && kind(bravo, alpha) == PathKind.TURN,
                    this::state);
            String first = alpha.engine.turnStates().get(0);

            restartable.destroy();
            restartable.waitFor();
            restartable = coturn(own, "restartable");
            // The test's timers refresh every second: the refusal comes within one, a new allocation right after.
            await(Duration.ofSeconds(6), "a new allocation", () -> alpha.engine.turnStates().get(0).contains("relayed address")
                    && !alpha.engine.turnStates().get(0).equals(first), this::state);
            await(Duration.ofSeconds(10), "through the new allocation both ways",
                    () -> alpha.engine.info(bravo.key).flatMap(PathInfo::candidatePair).orElse("")
                            .startsWith(alpha.engine.turnStates().get(0).replace("TURN 127.0.0.1:" + own.getPort() + ": relayed address ", "relay "))
                            && kind(bravo, alpha) == PathKind.TURN, this::state);
            int before = bravo.wireGuardLike.get();
            alpha.engine.directPath(bravo.key).orElseThrow().send(ByteBuffer.wrap(new byte[] {4, 0, 0, 0, 1, 2, 3, 4}));
            await(Duration.ofSeconds(2), "a packet through the new allocation", () -> bravo.wireGuardLike.get() == before + 1, this::state);
        } finally {
            restartable.destroy();
            restartable.waitFor();
        }
    }

    /**
     * What looks like TURN but is not from the server, or not on a channel it bound: ChannelData
     * from a stranger, on an unbound channel, truncated; a Data indication from a stranger. None
     * reaches WireGuard or hole punching; each is counted.
     */
    @Test
    void turnLookalikesFromStrangersOrUnboundChannelsAreDroppedAndCounted() throws Exception {
        startAllocated();
        InetSocketAddress target = (InetSocketAddress) alpha.channel.getLocalAddress();
        IceWire wire = new IceWire();
        try (DatagramChannel stranger = DatagramChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
            byte[] wg = {4, 0, 0, 0, 1, 2, 3, 4};
            ByteBuffer channelData = ByteBuffer.allocate(4 + wg.length).putChar((char) 0x4000).putChar((char) wg.length).put(wg).flip();
            stranger.send(channelData.duplicate(), target);
            stranger.send(ByteBuffer.wrap(wire.sendIndication(new byte[12], target, wg)), target);
            await(Duration.ofSeconds(2), "both counted", () -> alpha.engine.drops().getOrDefault("channel data from no TURN server of ours", 0L) >= 1
                    && alpha.engine.drops().getOrDefault("TURN message from no TURN server of ours", 0L) >= 1, this::state);
            // A length longer than the datagram: not ChannelData at all (and so not claimed from WireGuard's socket).
            ByteBuffer truncated = ByteBuffer.allocate(8).putChar((char) 0x4000).putChar((char) 100).flip();
            assertFalse(IceWire.isChannelData(truncated));
        } finally {
            wire.close();
        }
        // An unbound channel number from the server's own address cannot be sent from here; the
        // lookup is what decides it: no peer for channel 0x4FFF.
        TurnClient idle = new TurnClient(server, USER, PASSWORD, new IceWire(), null, Duration.ofSeconds(25), () -> { });
        ByteBuffer unbound = ByteBuffer.allocate(8).putChar((char) 0x4FFF).putChar((char) 4).putInt(1).flip();
        assertEquals(null, idle.unwrapChannelData(unbound));
        assertEquals(0, alpha.relayedIn.get());
    }

    private static PathKind kind(IceEngineTest.Node from, IceEngineTest.Node to) {
        return from.engine.info(to.key).map(PathInfo::kind).orElse(null);
    }

    private String state() {
        return "alpha: " + IceEngineTest.state(alpha, bravo) + " " + (alpha == null || alpha.engine == null ? "" : alpha.engine.turnStates())
                + "; bravo: " + IceEngineTest.state(bravo, alpha) + "\ncoturn:\n" + coturnLog();
    }

    private static String coturnLog() {
        try {
            List<String> lines = Files.readAllLines(work.resolve("coturn.log"), java.nio.charset.StandardCharsets.ISO_8859_1);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
        } catch (IOException e) {
            return e.toString();
        }
    }
}
