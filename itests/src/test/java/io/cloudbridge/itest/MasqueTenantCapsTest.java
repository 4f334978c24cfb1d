package io.cloudbridge.itest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.control.v1.RegisterResponse;
import io.grpc.ManagedChannel;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 23 item 4, an attacker holding one tenant's valid credentials against the relay's MASQUE
 * proxy, and what holds another tenant's service up:
 *
 * <ol>
 * <li>Tenant A asks for tunnels to names under a name server that never answers. Before the fix
 * each request's look-up held one of the proxy's two check threads for the resolver's whole
 * timeout, so tenant B's first CONNECT-UDP waited behind them (or got 503 once the queue filled).
 * Now a tenant's look-ups in flight are capped, they are asynchronous with a deadline (504), and B's
 * tunnel opens at once.
 * <li>Tenant A makes many clients from one reusable pre-auth key, each holding its per-client
 * maximum of tunnels. Before the fix nothing bounded a tenant; now the tenant is capped (429) and
 * the proxy as a whole too (503), with a reserve that still gives a tenant holding nothing its
 * first tunnel.
 * </ol>
 *
 * The relay resolves names with the system's configuration, so the silent name server is put in
 * its way as the system's: the relay runs in a mount namespace of its own whose
 * {@code /etc/resolv.conf} names a UDP socket of this test's that reads queries and never answers.
 */
class MasqueTenantCapsTest {
    @TempDir
    Path work;
    private Daemon relay;
    private DatagramSocket silentDns;
    private UdpEcho echo;
    private int quicPort;
    private int controlPort;
    private final List<RawH3> clients = new ArrayList<>();

    @AfterEach
    void stop() throws Exception {
        clients.forEach(RawH3::close);
        if (relay != null) {
            relay.close();
        }
        if (silentDns != null) {
            silentDns.close();
        }
        if (echo != null) {
            echo.close();
        }
    }

    /** A UDP socket on 127.0.0.x:53 that takes queries and never answers (root binds port 53). */
    private InetAddress silentNameServer() throws Exception {
        for (int attempt = 0; ; attempt++) {
            InetAddress a = InetAddress.getByAddress(new byte[] {127, 0, (byte) ThreadLocalRandom.current().nextInt(1, 255),
                    (byte) ThreadLocalRandom.current().nextInt(2, 255)});
            try {
                silentDns = new DatagramSocket(new InetSocketAddress(a, 53));
                return a;
            } catch (java.net.BindException taken) {
                if (attempt == 10) {
                    throw taken;
                }
            }
        }
    }

    /** A UDP echo server on loopback: the target of the tunnels. */
    private int echoServer() throws Exception {
        echo = UdpEcho.start();
        return echo.port();
    }

    /** A relay with the masque feature whose system name server is {@code nameServer}; {@code masque} lines go in its section. */
    private void relay(InetAddress nameServer, String... masque) throws Exception {
        controlPort = RuntimeTestSupport.freeTcpPort();
        quicPort = RuntimeTestSupport.freeUdpPort();
        relay = new Daemon(Files.createDirectories(work.resolve("relay")));
        relay.command = "relay";
        Path resolvConf = Files.writeString(work.resolve("resolv.conf"), "nameserver " + nameServer.getHostAddress() + "\n");
        // The relay's own view of the system's resolver: a private mount namespace, the file bound over /etc/resolv.conf.
        relay.prefix = List.of("unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
                "mount --bind \"$0\" /etc/resolv.conf && exec \"$@\"", resolvConf.toString());
        List<String> lines = new ArrayList<>(List.of(masque));
        lines.addAll(List.of("  allow: ['*=127.0.0.1/32']", "logging:", "  loggers: [io.cloudbridge.masque=debug]"));
        RuntimeTestSupport.writeOwnerOnly(relay.config, RuntimeTestSupport.masqueRelayYaml(controlPort, quicPort, lines.toArray(String[]::new)));
        relay.start();
        Await.until(Duration.ofSeconds(30), "the MASQUE proxy up; log:\n" + relay.logText(),
                () -> relay.logText().contains("MASQUE proxy on the relay's QUIC listener"));
    }

    /** Tokens of {@code count} nodes of {@code tenant}, all registered with one reusable pre-auth key (any member can make more). */
    private List<String> nodes(String tenant, int count) throws Exception {
        String key = relay.exec("relay:key", "create", "--tenant", tenant, "--reusable").out().trim();
        ManagedChannel channel = ControlPlaneTest.channel(controlPort);
        try {
            List<String> tokens = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                RegisterResponse node = ControlPlaneTest.register(channel, key, RelayAbuseTest.randomKey());
                tokens.add(node.getToken().getJwt());
            }
            return tokens;
        } finally {
            channel.shutdownNow();
        }
    }

    private RawH3 connection() throws Exception {
        RawH3 c = new RawH3(quicPort);
        clients.add(c);
        return c;
    }

    private static String udpPath(String host, int port) {
        return "/.well-known/masque/udp/" + host + "/" + port + "/";
    }

    /** The status of a request, or "none" when the proxy said nothing within {@code seconds}. */
    private static String status(RawH3.Request r, long seconds) throws InterruptedException, ExecutionException {
        try {
            return r.status.get(seconds, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            return "none";
        }
    }

    /**
     * A tunnel carries a payload to the echo server and back: out in a DATAGRAM capsule (context 0,
     * then the payload), back in an HTTP Datagram (this client enabled them, and it is small).
     */
    private static void roundTrip(RawH3 c, RawH3.Request tunnel, String text) throws Exception {
        byte[] payload = text.getBytes(StandardCharsets.UTF_8);
        byte[] capsule = new byte[2 + 1 + payload.length];
        capsule[0] = 0x00; // DATAGRAM
        capsule[1] = (byte) (payload.length + 1); // short payloads: a one-byte length
        capsule[2] = 0x00; // context id 0
        System.arraycopy(payload, 0, capsule, 3, payload.length);
        tunnel.send(capsule);
        byte[] back = c.datagrams.poll(10, TimeUnit.SECONDS);
        assertTrue(back != null, "an answer through the tunnel");
        assertEquals(text, new String(back, back.length - payload.length, payload.length, StandardCharsets.UTF_8));
    }

    /** How long a tenant's first tunnel takes to open (request to 200), in ms; it must open. */
    private long firstTunnel(RawH3 c, String token, int echoPort, long deadlineSeconds, String what) throws Exception {
        long from = System.nanoTime();
        RawH3.Request r = c.connect("connect-udp", udpPath("127.0.0.1", echoPort), token, true);
        String status = status(r, deadlineSeconds);
        long ms = (System.nanoTime() - from) / 1_000_000;
        assertEquals("200", status, what + ": after " + ms + " ms; the relay: " + relay.exec("masque:tunnels").out());
        roundTrip(c, r, what);
        return ms;
    }

    /**
     * The attack: tenant A sends 40 CONNECT-UDP requests at once, each to a different name under
     * the silent name server (no cache helps), and keeps sending. Tenant B, on a connection of its
     * own, asks for its first tunnel meanwhile: it must open, as fast as the proxy serves it idle
     * (within a few seconds here; the look-ups time out only after 5 s and the system resolver held a
     * thread 10 s each). A's requests end too: 429 beyond its look-ups in flight, 504 for a look-up
     * that ran out of time; none is left unanswered.
     */
    @Test
    void oneTenantsLookUpsUnderASilentNameServerNeverStallAnotherTenantsFirstTunnel() throws Exception {
        InetAddress silent = silentNameServer();
        int echoPort = echoServer();
        relay(silent);
        String a = nodes("acme", 1).get(0);
        String b = nodes("bravo", 1).get(0);
        // The baseline: a third tenant's first tunnel, the proxy idle (the same work as B's below).
        long idle = firstTunnel(connection(), nodes("charlie", 1).get(0), echoPort, 10, "C's first tunnel, the proxy idle");

        RawH3 attacker = connection();
        List<RawH3.Request> flood = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            flood.add(attacker.connect("connect-udp", udpPath("n" + i + "-" + System.nanoTime() + ".silent.test", 53), a, true));
        }
        long underFlood = firstTunnel(connection(), b, echoPort, 4, "B's first tunnel while A floods look-ups");
        System.out.printf("a first tunnel: %d ms idle; B's, while A floods look-ups: %d ms%n", idle, underFlood);

        Map<String, Integer> statuses = new TreeMap<>();
        for (RawH3.Request r : flood) {
            statuses.merge(status(r, 15), 1, Integer::sum);
        }
        assertEquals(null, statuses.get("none"), "every one of A's requests is answered within the look-up's deadline: " + statuses);
        assertTrue(statuses.keySet().stream().allMatch(s -> s.equals("429") || s.equals("504")),
                "A is refused for its own look-ups (429) or told the name server did not answer in time (504): " + statuses);
        int timedOut = statuses.getOrDefault("504", 0);
        assertTrue(timedOut >= 1 && timedOut <= 8, "some of A's look-ups ran to their deadline, at most "
                + "masque.maxResolutionsPerTenant (8) of them: " + statuses);
        String log = relay.logText();
        assertTrue(!log.contains(a) && !log.contains(b), "no token in the log");
    }

    /**
     * The attack: a reusable pre-auth key makes clients of tenant A, each opening its per-client
     * maximum of tunnels (sockets on the relay). The tenant is held to masque.maxTunnelsPerTenant
     * (429, whichever of its clients asks), the proxy to masque.maxTunnels (503), and the last
     * masque.reservedTunnels slots go only to tenants holding none: when A and C have taken all the
     * others, B's first tunnel still opens.
     */
    @Test
    void tunnelsAreCappedPerTenantAndTheProxysReserveKeepsAnotherTenantsFirstTunnel() throws Exception {
        int echoPort = echoServer();
        relay(InetAddress.getLoopbackAddress(), "  maxTunnelsPerClient: 4", "  maxTunnelsPerTenant: 8", "  maxTunnels: 12",
                "  reservedTunnels: 2");
        List<String> a = nodes("acme", 3);
        String b = nodes("bravo", 1).get(0);
        String c = nodes("charlie", 1).get(0);
        RawH3 conn = connection();
        String target = udpPath("127.0.0.1", echoPort);

        List<RawH3.Request> held = new ArrayList<>();
        for (int client = 0; client < 2; client++) {
            for (int i = 0; i < 4; i++) {
                RawH3.Request r = conn.connect("connect-udp", target, a.get(client), true);
                assertEquals("200", status(r, 10), "A's client " + client + " tunnel " + i);
                held.add(r);
            }
            assertEquals("429", status(conn.connect("connect-udp", target, a.get(client), true), 10), "over masque.maxTunnelsPerClient");
        }
        RawH3.Request third = conn.connect("connect-udp", target, a.get(2), true);
        assertEquals("429", status(third, 10), "A's third client: its tenant holds masque.maxTunnelsPerTenant (8) already");
        assertTrue(new String(third.drain(500), StandardCharsets.UTF_8).contains("maxTunnelsPerTenant"), "the refusal names the limit");

        // C takes what is left outside the reserve (8 + 2 = maxTunnels - reservedTunnels); its third would be in the reserve.
        for (int i = 0; i < 2; i++) {
            assertEquals("200", status(conn.connect("connect-udp", target, c, true), 10), "C's tunnel " + i);
        }
        RawH3.Request cThird = conn.connect("connect-udp", target, c, true);
        assertEquals("503", status(cThird, 10), "C holds tunnels already: the reserve is not for it");
        // B holds none: its first tunnel comes out of the reserve, and carries.
        firstTunnel(connection(), b, echoPort, 10, "B's first tunnel with the proxy full outside its reserve");
        assertEquals("503", status(conn.connect("connect-udp", target, b, true), 10), "B's second is not a first");

        // A lets two tunnels go: the slots come back to its tenant and to the proxy (9 held, below the reserve), so
        // A's third client opens one now.
        held.get(0).stream.shutdownOutput().sync();
        held.get(1).stream.shutdownOutput().sync();
        Await.until(Duration.ofSeconds(5), "the slots came back", () -> relay.exec("masque:tunnels").out().contains("9 CONNECT-UDP"));
        assertEquals("200", status(conn.connect("connect-udp", target, a.get(2), true), 10), "A's third client, its tenant at 6");
    }

    /**
     * The masque feature going and coming on a running relay (the chaos test's "relay:
     * feature:install masque and back"). When Netty's DNS resolver was a bundle of the feature, it
     * was reloaded beside a netty-common that stayed; its static initialiser found its attribute
     * name taken, the MASQUE proxy could not be made, and no tunnel opened until a restart.
     */
    @Test
    void theProxyWorksAgainAfterTheMasqueFeatureIsReinstalled() throws Exception {
        int echoPort = echoServer();
        relay(InetAddress.getLoopbackAddress());
        String token = nodes("acme", 1).get(0);
        firstTunnel(connection(), token, echoPort, 10, "a tunnel before the reinstall");
        assertEquals(0, relay.exec("feature:uninstall", "masque").exit(), relay.logText());
        assertEquals(0, relay.exec("feature:install", "masque").exit(), relay.logText());
        Await.until(Duration.ofSeconds(20), "a tunnel after the reinstall", () -> {
            try {
                firstTunnel(connection(), token, echoPort, 2, "a tunnel after the reinstall");
                return true;
            } catch (Exception | AssertionError e) {
                return false;
            }
        });
        assertTrue(!relay.logText().contains("Error during instantiation"), relay.logText());
    }
}
