package io.cloudbridge.itest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.testing.Requirements;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two nodes with real TUN devices, each in its own network namespace behind a veth link, and a
 * relay in the host's: `bin/cloudbridge up` and `relay` as they run on machines. The nodes' ends
 * of the links carry 1,500 bytes, the relay's ends 1,450: a node's larger packets vanish on the
 * way without a word (a black hole, as behind some tunnels), and only don't-fragment probes find
 * the path's size. The overlay's MTU is derived from what they found; a ping of that full size
 * with don't-fragment set crosses, and 100 MB of TCP (iperf3) go through the relay over QUIC,
 * then over WebSocket with QUIC uninstalled on both nodes. Needs root (CI runs as root).
 */
class NodeTunnelTest {
    /** The relay's end of each node's link: smaller than the nodes' 1,500. */
    static final int RELAY_SIDE_MTU = 1450;

    @TempDir
    Path work;

    @Test
    void fullSizePacketsAndTcpCrossTheRelayOverEachTransport() throws Exception {
        Requirements.requireRoot("to build network namespaces and TUN devices");
        Requirements.requireTools("apt-get install iproute2 iperf3 iputils-ping", "ip", "iperf3", "ping");
        String[] ns = {"cbtA", "cbtB"};
        List<String[]> links = List.of(new String[] {"cbtvA", "cbtvA0", "10.211.1.1", "10.211.1.2"},
                new String[] {"cbtvB", "cbtvB0", "10.211.2.1", "10.211.2.2"});
        try {
            for (int i = 0; i < 2; i++) {
                String[] l = links.get(i);
                sh(false, "ip", "netns", "del", ns[i]);
                sh(false, "ip", "link", "del", l[0]);
                sh(true, "ip", "netns", "add", ns[i]);
                sh(true, "ip", "link", "add", l[0], "type", "veth", "peer", "name", l[1]);
                sh(true, "ip", "link", "set", l[1], "netns", ns[i]);
                sh(true, "ip", "addr", "add", l[2] + "/24", "dev", l[0]);
                sh(true, "ip", "link", "set", l[0], "up", "mtu", String.valueOf(RELAY_SIDE_MTU));
                sh(true, "ip", "-n", ns[i], "addr", "add", l[3] + "/24", "dev", l[1]);
                sh(true, "ip", "-n", ns[i], "link", "set", l[1], "up");
                sh(true, "ip", "-n", ns[i], "link", "set", "lo", "up");
            }
            int controlPort = RuntimeTestSupport.freeTcpPort();
            int tlsPort = RuntimeTestSupport.freeTcpPort();
            int quicPort = RuntimeTestSupport.freeUdpPort();
            Daemon relay = new Daemon(Files.createDirectories(work.resolve("relay")));
            relay.command = "relay";
            RuntimeTestSupport.writeOwnerOnly(relay.config, String.join("\n",
                    "relay:", "  listenAddress: 0.0.0.0", "  controlPort: " + controlPort, "  jwksPort: 0",
                    "listeners:", "  address: 0.0.0.0", "  tlsPort: " + tlsPort, "  quicPort: " + quicPort, ""));
            try (Daemon r = relay.start()) {
                Await.until(Duration.ofSeconds(20), "the relay's routes", () -> r.logText().contains("relay QUIC protocol cloudbridge/1"));
                String key = r.exec("relay:key", "create", "--tenant", "lab", "--reusable").out().trim();
                try (Daemon a = node("alpha", ns[0], links.get(0)[2], controlPort, quicPort, tlsPort, key);
                     Daemon b = node("bravo", ns[1], links.get(1)[2], controlPort, quicPort, tlsPort, key)) {
                    try {
                        Await.until(Duration.ofSeconds(20), "both on the relay over QUIC", () -> a.exec("cb:paths").out().startsWith("relay path: quic")
                                && b.exec("cb:paths").out().startsWith("relay path: quic"));
                    } catch (AssertionError e) {
                        throw new AssertionError(e.getMessage() + "\nalpha:\n" + pathLog(a) + "bravo:\n" + pathLog(b), e);
                    }
                    String bravo = b.whoami("address").split("/")[0];
                    // The MTU follows what a QUIC datagram carries on the path as probed: 1,454-byte IP
                    // packets pass the relay's side of the veth (its MTU plus the 4 bytes it allows for
                    // a VLAN tag), and the relay's kernel sends at most 1,450: 1,422 bytes of UDP,
                    // 1,372 of datagram, 1,340 of WireGuard message; (1,340 - 32) rounded down to a
                    // multiple of 16. A 1,500-byte link (a constant's assumption) would give 1,344.
                    int expected = 1296;
                    Await.until(Duration.ofSeconds(15), "alpha's MTU from its probed path", () -> mtu(ns[0], "cbna") == expected);
                    Await.until(Duration.ofSeconds(15), "bravo's MTU from its probed path", () -> mtu(ns[1], "cbnb") == expected);
                    int mtu = expected;
                    assertTrue(a.logText().contains("overlay MTU of cbna now " + mtu), a.logText());
                    assertTrue(a.logText().contains("path MTU discovery with don't-fragment"), a.logText());
                    Daemon.awaitEachOthersPeer(a, b, Duration.ofSeconds(10));

                    transfer(ns, bravo, mtu, "quic");
                    // What a constant would have set is lost on this path, silently: the probe mattered.
                    sh(true, "ip", "-n", ns[0], "link", "set", "cbna", "mtu", "1344");
                    String tooLarge = sh(false, "ip", "netns", "exec", ns[0], "ping", "-M", "do", "-s", String.valueOf(1344 - 28),
                            "-c", "2", "-W", "1", bravo);
                    sh(true, "ip", "-n", ns[0], "link", "set", "cbna", "mtu", String.valueOf(mtu));
                    assertTrue(tooLarge.contains(" 0 received"), "a 1,344-byte packet should not cross: " + tooLarge);

                    // Handover: alpha's address changes under its QUIC session (another address on its
                    // link); the overlay carries on within 2 s, the WireGuard session the same.
                    String before = a.exec("wg:show").out();
                    // The new address is a secondary one until the old goes: promoted then, not removed with it.
                    sh(true, "ip", "netns", "exec", ns[0], "sysctl", "-q", "-w", "net.ipv4.conf." + links.get(0)[1] + ".promote_secondaries=1");
                    sh(true, "ip", "-n", ns[0], "addr", "add", "10.211.1.3/24", "dev", links.get(0)[1]);
                    sh(true, "ip", "-n", ns[0], "addr", "del", links.get(0)[3] + "/24", "dev", links.get(0)[1]);
                    long moved = System.nanoTime();
                    boolean answered = false;
                    while (!answered && System.nanoTime() - moved < Duration.ofSeconds(5).toNanos()) {
                        answered = sh(false, "ip", "netns", "exec", ns[0], "ping", "-c", "1", "-W", "1", bravo).contains("1 received");
                    }
                    long took = (System.nanoTime() - moved) / 1_000_000;
                    System.out.println("after alpha's address changed, the overlay answered again after " + took + " ms; paths: "
                            + a.exec("cb:paths").out().lines().findFirst().orElse(""));
                    assertTrue(answered && took < 2000, "the overlay answered again after " + took + " ms; alpha's log:\n" + pathLog(a));
                    System.out.println("wg:show before the move:\n" + before + "after:\n" + a.exec("wg:show").out());
                    for (Daemon d : List.of(a, b)) {
                        assertEquals(0, d.exec("feature:uninstall", "transport-quic").exit());
                    }
                    Await.until(Duration.ofSeconds(10), "both over WebSocket", () -> a.exec("cb:paths").out().startsWith("relay path: websocket")
                            && b.exec("cb:paths").out().startsWith("relay path: websocket"));
                    assertEquals(mtu, mtu(ns[0], "cbna"), "the MTU does not swing with the transport");
                    transfer(ns, bravo, mtu, "websocket");

                    // Live replacement under load: one TCP connection runs for 30 s while alpha's QUIC
                    // transport is installed, uninstalled and updated over and over. It never breaks.
                    assertEquals(0, b.exec("feature:install", "transport-quic").exit());
                    assertEquals(0, a.exec("feature:install", "transport-quic").exit());
                    Await.until(Duration.ofSeconds(10), "both over QUIC again", () -> a.exec("cb:paths").out().startsWith("relay path: quic")
                            && b.exec("cb:paths").out().startsWith("relay path: quic"));
                    Process server = new ProcessBuilder("ip", "netns", "exec", ns[1], "iperf3", "-s", "-1", "-B", bravo)
                            .redirectErrorStream(true).start();
                    Process client = null;
                    try {
                        long listenBy = System.nanoTime() + Duration.ofSeconds(10).toNanos();
                        while (System.nanoTime() < listenBy && !sh(false, "ip", "netns", "exec", ns[1], "ss", "-tln").contains(bravo + ":5201")) {
                            Thread.onSpinWait();
                        }
                        client = new ProcessBuilder("ip", "netns", "exec", ns[0], "iperf3", "-c", bravo, "-t", "30", "-J")
                                .redirectErrorStream(true).start();
                        Process running = client;
                        Await.until(Duration.ofSeconds(5), "the TCP connection up",
                                () -> { try { return sh(false, "ip", "netns", "exec", ns[0], "ss", "-tn").contains(bravo + ":5201"); }
                                        catch (Exception e) { return false; } });
                        int cycles = 0;
                        while (running.isAlive() && cycles < 8) {
                            assertEquals(0, a.exec("feature:uninstall", "transport-quic").exit());
                            assertEquals(0, a.exec("feature:install", "transport-quic").exit());
                            Await.until(Duration.ofSeconds(5), "alpha over QUIC", () -> a.exec("cb:paths").out().startsWith("relay path: quic"));
                            if (cycles % 4 == 3) {
                                assertEquals(0, a.exec("update", "io.cloudbridge.transport.quic").exit());
                                Await.until(Duration.ofSeconds(5), "alpha over QUIC after the update",
                                        () -> a.exec("transport:list").out().contains("connected *"));
                            }
                            cycles++;
                        }
                        assertTrue(cycles >= 4, "only " + cycles + " cycles while the transfer ran");
                        assertTrue(client.waitFor(60, java.util.concurrent.TimeUnit.SECONDS), "the transfer ended");
                        String json = new String(client.getInputStream().readAllBytes());
                        assertEquals(0, client.exitValue(), "the TCP connection broke: " + json);
                        Matcher received = Pattern.compile("\"sum_received\":\\s*\\{[^}]*?\"bytes\":\\s*(\\d+)").matcher(json);
                        assertTrue(received.find() && Long.parseLong(received.group(1)) > 0, json);
                        System.out.println("30 s of TCP across " + cycles + " uninstall/install cycles (every fourth with an update): "
                                + received.group(1) + " bytes, no break");
                    } finally {
                        if (client != null) {
                            client.destroy();
                        }
                        server.destroy();
                        server.waitFor();
                    }

                    // The relay's side: removing transport-quic from the relay tells its sessions to move
                    // (GOAWAY); both nodes bring WebSocket up and move their peers before QUIC closes. A
                    // ping every 10 ms runs across it and loses next to nothing (a break would lose the
                    // 100 ms to 200 ms of a reconnect: 10 to 20 pings).
                    Process pinger = new ProcessBuilder("ip", "netns", "exec", ns[0], "ping", "-i", "0.01", "-w", "5", "-q", bravo)
                            .redirectErrorStream(true).start();
                    long sentBefore = txPackets(ns[0], "cbna");
                    Await.until(Duration.ofSeconds(5), "the pings under way", () -> txPackets(ns[0], "cbna") >= sentBefore + 5);
                    assertEquals(0, r.exec("feature:uninstall", "transport-quic").exit());
                    Await.until(Duration.ofSeconds(5), "both over WebSocket", () -> a.exec("cb:paths").out().startsWith("relay path: websocket")
                            && b.exec("cb:paths").out().startsWith("relay path: websocket"));
                    assertTrue(pinger.waitFor(15, java.util.concurrent.TimeUnit.SECONDS), "ping ended");
                    String pings = new String(pinger.getInputStream().readAllBytes());
                    Matcher counts = Pattern.compile("(\\d+) packets transmitted, (\\d+) received").matcher(pings);
                    assertTrue(counts.find(), pings);
                    int lost = Integer.parseInt(counts.group(1)) - Integer.parseInt(counts.group(2));
                    System.out.println("relay-side removal of transport-quic: " + counts.group(1) + " pings at 10 ms, " + lost + " lost");
                    assertTrue(lost <= 3, "the move lost " + lost + " pings: " + pings + "\nalpha:\n" + pathLog(a));
                    assertTrue(a.logText().contains("the relay is letting it go") && b.logText().contains("the relay is letting it go"),
                            pathLog(a) + pathLog(b));
                    assertTrue(!r.logText().contains("still open after"), "the nodes moved before the relay's drain ended: " + r.logText());
                    // Installed again, the nodes come back to QUIC when their retry comes round.
                    assertEquals(0, r.exec("feature:install", "transport-quic").exit());
                    Await.until(Duration.ofSeconds(40), "both over QUIC once the relay serves it again", () -> a.exec("cb:paths").out()
                            .startsWith("relay path: quic") && b.exec("cb:paths").out().startsWith("relay path: quic"));
                }
            }
        } finally {
            for (int i = 0; i < 2; i++) {
                sh(false, "ip", "netns", "del", ns[i]);
                sh(false, "ip", "link", "del", links.get(i)[0]);
            }
        }
    }

    /** A don't-fragment ping of the full MTU, then 100 MB of TCP from alpha's namespace to bravo's. */
    private static void transfer(String[] ns, String bravo, int mtu, String over) throws Exception {
        String ping = sh(true, "ip", "netns", "exec", ns[0], "ping", "-M", "do", "-s", String.valueOf(mtu - 28), "-c", "3", "-W", "3", bravo);
        assertTrue(ping.contains("3 received"), over + ": " + ping);
        Process server = new ProcessBuilder("ip", "netns", "exec", ns[1], "iperf3", "-s", "-1", "-B", bravo).redirectErrorStream(true).start();
        try {
            String client = null;
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (System.nanoTime() < deadline) { // until the server listens
                client = sh(false, "ip", "netns", "exec", ns[0], "iperf3", "-c", bravo, "-n", "100M", "-J");
                if (client.contains("\"sum_received\"")) {
                    break;
                }
                Thread.onSpinWait();
            }
            Matcher bytes = Pattern.compile("\"sum_received\":\\s*\\{[^}]*?\"bytes\":\\s*(\\d+)").matcher(String.valueOf(client));
            assertTrue(bytes.find(), over + ": " + client);
            assertTrue(Long.parseLong(bytes.group(1)) >= 100_000_000L, over + ": " + bytes.group(1) + " bytes");
            Matcher rate = Pattern.compile("\"sum_received\":\\s*\\{[^}]*?\"bits_per_second\":\\s*([0-9.e+]+)").matcher(client);
            System.out.println("100 MB over " + over + ": " + (rate.find() ? String.format("%.0f Mbit/s", Double.parseDouble(rate.group(1)) / 1e6) : "?"));
        } finally {
            server.destroy();
            server.waitFor();
        }
    }

    private Daemon node(String name, String namespace, String relayAddress, int controlPort, int quicPort, int tlsPort, String key)
            throws Exception {
        Path dir = Files.createDirectories(work.resolve(name));
        Path keyFile = dir.resolve("preauth.key");
        RuntimeTestSupport.writeOwnerOnly(keyFile, key + "\n");
        Daemon node = new Daemon(dir);
        node.command = "up";
        node.prefix = List.of("ip", "netns", "exec", namespace);
        String yaml = RuntimeTestSupport.nodeYaml(dir, name.substring(0, 1), controlPort,
                "  transports: [quic://" + relayAddress + ":" + quicPort + ", wss://" + relayAddress + ":" + tlsPort + "]")
                .replace("127.0.0.1:" + controlPort, relayAddress + ":" + controlPort)
                .replace("  listenAddress: 127.0.0.1\n", "  listenAddress: 0.0.0.0\n")
                .replace("  userspace: true\n", "  userspace: false\n");
        RuntimeTestSupport.writeOwnerOnly(node.config, yaml);
        return node.start("--pre-auth-key-file", keyFile.toString());
    }

    /** Packets the device has sent, or -1 when it cannot be read. */
    private static long txPackets(String namespace, String device) {
        try {
            return Long.parseLong(sh(true, "ip", "netns", "exec", namespace, "cat", "/sys/class/net/" + device + "/statistics/tx_packets").trim());
        } catch (Exception e) {
            return -1;
        }
    }

    /** What a node's log says of its relay paths: for a failure's message. */
    private static String pathLog(Daemon node) {
        return node.logText().lines().filter(l -> l.contains("RelayPaths") || l.contains("RelaySession") || l.contains("QuicSession")
                || l.contains("WARN") || l.contains("ERROR")).reduce("", (x, y) -> x + y + "\n");
    }

    private static int mtu(String namespace, String device) {
        try {
            Matcher m = Pattern.compile(" mtu (\\d+) ").matcher(sh(false, "ip", "-n", namespace, "link", "show", device));
            return m.find() ? Integer.parseInt(m.group(1)) : Integer.MAX_VALUE;
        } catch (Exception e) {
            return Integer.MAX_VALUE;
        }
    }

    private static String sh(boolean check, String... command) throws Exception {
        Process p = new ProcessBuilder(new ArrayList<>(List.of(command))).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        int exit = p.waitFor();
        if (check && exit != 0) {
            throw new AssertionError(String.join(" ", command) + " failed (" + exit + "): " + out);
        }
        return out;
    }
}
