package io.cloudbridge.wireguard.internal.device;

import io.cloudbridge.paths.internal.OverlayBinding;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.api.net.IpPrefix;
import io.cloudbridge.wireguard.internal.noise.Identity;
import io.cloudbridge.wireguard.internal.noise.NoiseCrypto;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The Java engine against wireguard-go, an implementation nobody here wrote, across a veth pair
 * into a network namespace: handshakes from each side, pings both ways, a pre-shared key, and a
 * stranger's key.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class WireGuardGoInteropTest {
    static final String IFACE = "cbwgi0";
    NamespaceLab lab;
    String goPublic;
    final byte[] psk = NoiseCrypto.random(32);

    @BeforeAll
    void lab() throws Exception {
        lab = new NamespaceLab("cbwgi", "10.250.7.1", "10.250.7.2");
        lab.startWireGuardGo(IFACE);
        String goPrivate = NamespaceLab.wg(null, "genkey");
        goPublic = NamespaceLab.wg(goPrivate, "pubkey");
        Path keyFile = Files.createTempFile("wg-go", ".key");
        Files.writeString(keyFile, goPrivate + "\n");
        lab.inLab("wg", "set", IFACE, "private-key", keyFile.toString(), "listen-port", "51820");
        lab.inLab("ip", "addr", "add", "10.99.7.2/24", "dev", IFACE);
        lab.inLab("ip", "link", "set", IFACE, "up");
    }

    @AfterAll
    void close() throws Exception {
        if (lab != null) {
            lab.close();
        }
    }

    /** A Java device on the host side of the veth, with wireguard-go as its one peer. */
    private final class JavaEnd implements AutoCloseable {
        final Identity identity = Identity.generate();
        final WireGuardDevice device;
        final Peer peer;
        final Map<Integer, byte[]> echoReplies = new ConcurrentHashMap<>();
        final int port;
        /** Where decrypted packets go instead of the userspace echo responder (a TUN device). */
        volatile WireGuardDevice.PacketSink sinkOverride;

        JavaEnd(String overlayAddress, byte[] presharedKey, boolean knownToGo) throws Exception {
            this(overlayAddress, presharedKey, knownToGo, Timers.STANDARD, false);
        }

        JavaEnd(String overlayAddress, byte[] presharedKey, boolean knownToGo, Timers timers) throws Exception {
            this(overlayAddress, presharedKey, knownToGo, timers, false);
        }

        /** @param batching the runtime's socket (epoll: bursts a system call, UDP GSO and GRO); false: the JDK's */
        JavaEnd(String overlayAddress, byte[] presharedKey, boolean knownToGo, Timers timers, boolean batching) throws Exception {
            OverlayBinding binding = OverlayBinding.open(new InetSocketAddress("10.250.7.1", 0), batching);
            port = binding.localAddress().getPort();
            device = new WireGuardDevice(identity, binding, new WireGuardDevice.PacketSink() {
                @Override
                public void deliver(Peer from, byte[] packet, int length) {
                    JavaEnd.this.deliver(from, packet, length);
                }

                @Override
                public void flush() {
                    JavaEnd.this.flush();
                }
            }, Clock.systemUTC(), 1000, timers);
            peer = device.addPeer(Base64.getDecoder().decode(goPublic), presharedKey,
                    List.of(IpPrefix.parse("10.99.7.0/24")), new InetSocketAddress("10.250.7.2", 51820));
            // Batches split across two crypto threads whatever the machine's default, so the 100 MB
            // checksum transfer covers the parallel path and its ordering.
            device.setCryptoThreads(2);
            device.start();
            if (knownToGo) {
                String pub = Base64.getEncoder().encodeToString(identity.publicKey());
                if (presharedKey == null) {
                    lab.inLab("wg", "set", IFACE, "peer", pub, "allowed-ips", overlayAddress + "/32", "endpoint",
                            "10.250.7.1:" + port);
                } else {
                    Path pskFile = Files.createTempFile("wg-psk", ".key");
                    Files.writeString(pskFile, Base64.getEncoder().encodeToString(presharedKey) + "\n");
                    lab.inLab("wg", "set", IFACE, "peer", pub, "preshared-key", pskFile.toString(), "allowed-ips",
                            overlayAddress + "/32", "endpoint", "10.250.7.1:" + port);
                }
            }
        }

        /** The end of a receive batch: a TUN sink writes what it joined. */
        void flush() {
            if (sinkOverride != null) {
                sinkOverride.flush();
            }
        }

        /** Userspace mode: answer echo requests, record echo replies. */
        void deliver(Peer from, byte[] packet, int length) {
            if (sinkOverride != null) {
                sinkOverride.deliver(from, packet, length);
            } else if (IcmpEcho.isRequest(packet, length)) {
                device.send(IcmpEcho.replyTo(packet, length));
            } else if (IcmpEcho.isReply(packet, length)) {
                echoReplies.put(IcmpEcho.sequence(packet), java.util.Arrays.copyOf(packet, length));
            }
        }

        void ping(String from, String to, int sequence) throws Exception {
            device.send(IcmpEcho.request((Inet4Address) InetAddress.getByName(from), (Inet4Address) InetAddress.getByName(to),
                    0x4242, sequence, ("ping " + sequence).getBytes(StandardCharsets.US_ASCII)));
        }

        void extraAllowed(IpPrefix prefix, Peer peer) {
            device.addAllowedIp(peer, prefix);
        }

        @Override
        public void close() throws Exception {
            device.close();
        }
    }

    @Test
    void javaInitiatesAndPingsWireGuardGo() throws Exception {
        try (JavaEnd java = new JavaEnd("10.99.7.1", null, true)) {
            java.ping("10.99.7.1", "10.99.7.2", 1);
            NamespaceLab.await(Duration.ofSeconds(5), "echo reply 1 from the namespace's kernel through wireguard-go",
                    () -> java.echoReplies.containsKey(1));
            java.ping("10.99.7.1", "10.99.7.2", 2);
            NamespaceLab.await(Duration.ofSeconds(2), "echo reply 2 on the same session", () -> java.echoReplies.containsKey(2));
            assertTrue(java.peer.lastHandshake() != null);
            String shown = lab.inLab("wg", "show", IFACE, "latest-handshakes");
            assertTrue(shown.contains(Base64.getEncoder().encodeToString(java.identity.publicKey())), shown);
            assertTrue(java.device.drops().isEmpty(), String.valueOf(java.device.drops()));
        }
    }

    @Test
    void wireGuardGoInitiatesAndTheJavaEndAnswersPings() throws Exception {
        try (JavaEnd java = new JavaEnd("10.99.7.3", null, true)) {
            String out = lab.inLab("ping", "-c", "3", "-i", "0.2", "-W", "2", "10.99.7.3");
            assertTrue(out.contains("3 received"), out);
            assertTrue(java.peer.lastHandshake() != null, "wireguard-go's handshake reached the Java end");
            assertTrue(java.peer.rxBytes() >= 3 * 84, "three echo requests of 84 bytes: " + java.peer.rxBytes());
        }
    }

    /**
     * The Java engine behind a real TUN device: the host's own ping (IPv4 and IPv6) and a TCP
     * transfer (iperf3) go through the kernel, the TUN device, the Java engine and wireguard-go.
     */
    @Test
    void throughATunDevicePingBothFamiliesAndTcp() throws Exception {
        lab.inLab("ip", "-6", "addr", "add", "fd99:7::2/64", "dev", IFACE);
        // The runtime's own TUN path: offload asked for, the reader thread, the coalescing sink.
        try (JavaEnd node = new JavaEnd("10.99.7.21", null, true, Timers.STANDARD, true);
                io.cloudbridge.api.tun.TunDevice tun = new io.cloudbridge.tun.internal.LinuxTunDevices().open("cbtun7", 1420,
                        List.of("10.99.7.21/32", "fd99:7::21/128"),
                        List.of(IpPrefix.parse("10.99.7.2/32"), IpPrefix.parse("fd99:7::2/128")), true)) {
            assertTrue(tun.offload(), "the kernel grants TUN segmentation offload");
            String pub = Base64.getEncoder().encodeToString(node.identity.publicKey());
            lab.inLab("wg", "set", IFACE, "peer", pub, "allowed-ips", "10.99.7.21/32,fd99:7::21/128");
            WireGuardDevice device = node.device;
            Peer v6 = device.peers().get(0);
            node.sinkOverride = tunSink(tun);
            TunPump.start(tun, device);
            node.extraAllowed(IpPrefix.parse("fd99:7::/64"), v6);

            String ping4 = NamespaceLab.run(true, "ping", "-c", "3", "-i", "0.2", "-W", "2", "10.99.7.2");
            assertTrue(ping4.contains("3 received"), ping4);
            String ping6 = NamespaceLab.run(true, "ping", "-6", "-c", "3", "-i", "0.2", "-W", "2", "fd99:7::2");
            assertTrue(ping6.contains("3 received"), ping6);
            // And the other way: wireguard-go's side pings the host's kernel behind the Java engine's TUN.
            String back4 = lab.inLab("ping", "-c", "2", "-i", "0.2", "-W", "2", "10.99.7.21");
            assertTrue(back4.contains("2 received"), back4);
            String back6 = lab.inLab("ping", "-6", "-c", "2", "-i", "0.2", "-W", "2", "fd99:7::21");
            assertTrue(back6.contains("2 received"), back6);

            // 100 MB over TCP from the namespace to a receiver here, through the tunnel: same SHA-256.
            fromTheNamespace("10.99.7.21", 100);
            assertTrue(tun.packetsWritten() > tun.framesWritten(),
                    "received segments were joined: " + tun.packetsWritten() + " packets in " + tun.framesWritten() + " frames");

            Process server = new ProcessBuilder("ip", "netns", "exec", lab.namespace, "iperf3", "-s", "-1", "-B", "10.99.7.2")
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            try {
                String iperf = "";
                long end = System.nanoTime() + Duration.ofSeconds(5).toNanos();
                while (!iperf.contains("receiver") && System.nanoTime() < end) {
                    // the server may not listen yet on the first try
                    iperf = NamespaceLab.run(false, "iperf3", "-c", "10.99.7.2", "-n", "20M", "-f", "m");
                }
                assertTrue(iperf.contains("receiver"), iperf);
            } finally {
                server.destroy();
            }
            assertEquals(0L, device.drops().getOrDefault("source not allowed", 0L), String.valueOf(device.drops()));
        }
    }

    /**
     * Under a pre-shared key, with 5 % of the tunnel's datagrams dropped at random each way
     * (nftables {@code numgen} in wireguard-go's namespace), TCP crosses intact both ways, whichever
     * end's handshake opened the session (the first transfer's sender's engine initiates), on the
     * runtime's socket (bursts a system call, UDP GSO and GRO) and on the JDK's (the fallback).
     */
    @org.junit.jupiter.params.ParameterizedTest(name = "the Java end initiates: {0}; batched socket: {1}")
    @org.junit.jupiter.params.provider.CsvSource({"true, true", "false, true", "true, false", "false, false"})
    void underAPresharedKeyAndFivePercentLossEachWayTcpCrossesIntactBothWays(boolean javaInitiates, boolean batching) throws Exception {
        io.cloudbridge.testing.Requirements.requireTool("nft", "apt-get install nftables");
        int variant = (javaInitiates ? 0 : 1) + (batching ? 0 : 2);
        String address = "10.99.7." + (31 + variant);
        Path rules = Files.createTempFile("cbloss", ".nft");
        Files.writeString(rules, String.join("\n", "table inet cbloss {",
                "  chain in { type filter hook input priority 0; udp dport 51820 numgen random mod 100 < 5 counter drop; }",
                "  chain out { type filter hook output priority 0; udp sport 51820 numgen random mod 100 < 5 counter drop; }",
                "}", ""));
        try (JavaEnd node = new JavaEnd(address, psk, true, Timers.STANDARD, batching);
                io.cloudbridge.api.tun.TunDevice tun = new io.cloudbridge.tun.internal.LinuxTunDevices().open(
                        "cbtl" + variant, 1420, List.of(address + "/32"), List.of(IpPrefix.parse("10.99.7.2/32")), true)) {
            node.sinkOverride = tunSink(tun);
            TunPump.start(tun, node.device);
            lab.inLab("nft", "-f", rules.toString());
            if (javaInitiates) {
                toTheNamespace(address, 10);
                fromTheNamespace(address, 10);
            } else {
                fromTheNamespace(address, 10);
                toTheNamespace(address, 10);
            }
            // Bytes, not packets: on the veth a GSO datagram of the batched socket crosses whole, and
            // the rule drops it whole (up to 45 datagrams at once: burst loss, harsher than 5 % of datagrams).
            String counters = lab.inLab("nft", "list", "table", "inet", "cbloss");
            java.util.regex.Matcher dropped = java.util.regex.Pattern.compile("bytes (\\d+) drop").matcher(counters);
            for (String way : List.of("in", "out")) {
                assertTrue(dropped.find() && Long.parseLong(dropped.group(1)) > 200_000, way + ": 2 % of 10 MB or more dropped\n" + counters);
            }
            assertTrue(lab.inLab("wg", "show", IFACE, "preshared-keys").contains(Base64.getEncoder().encodeToString(psk)));
            assertTrue(node.peer.lastHandshake() != null);
        } finally {
            lab.inLab("sh", "-c", "nft delete table inet cbloss 2>/dev/null || true");
            Files.deleteIfExists(rules);
        }
    }

    /** MEGABYTES over TCP from wireguard-go's namespace to a receiver on {@code host} here, through the tunnel: same SHA-256. */
    private void fromTheNamespace(String host, int megabytes) throws Exception {
        try (java.net.ServerSocket receiver = new java.net.ServerSocket(0, 1, InetAddress.getByName(host))) {
            Process sender = new ProcessBuilder("ip", "netns", "exec", lab.namespace,
                    Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
                    System.getProperty("java.class.path"), ChecksumPeer.class.getName(), host,
                    Integer.toString(receiver.getLocalPort()), Integer.toString(megabytes))
                    .redirectErrorStream(true).start();
            receiver.setSoTimeout(40_000);
            String received;
            try (java.net.Socket s = receiver.accept()) {
                received = ChecksumPeer.drain(s, (long) megabytes * 1024 * 1024);
            }
            String sent = new String(sender.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).trim();
            assertTrue(sender.waitFor(60, java.util.concurrent.TimeUnit.SECONDS));
            assertEquals(received, sent, "SHA-256 of what the namespace sent and what arrived here");
        }
    }

    /** MEGABYTES over TCP from here (bound to {@code host}) to a receiver in wireguard-go's namespace: same SHA-256. */
    private void toTheNamespace(String host, int megabytes) throws Exception {
        int port = 5201 + megabytes;
        Process receiver = new ProcessBuilder("ip", "netns", "exec", lab.namespace,
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp", System.getProperty("java.class.path"),
                ChecksumPeer.class.getName(), "--receive", "10.99.7.2", Integer.toString(port), Integer.toString(megabytes))
                .redirectErrorStream(true).start();
        NamespaceLab.await(Duration.ofSeconds(20), "the receiver listening in the namespace", () -> {
            try {
                return lab.inLab("ss", "-Hltn", "sport", "=", ":" + port).contains(":" + port);
            } catch (Exception e) {
                return false;
            }
        });
        String sent = ChecksumPeer.send(new InetSocketAddress(host, 0), new InetSocketAddress("10.99.7.2", port), megabytes);
        String received = new String(receiver.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).trim();
        assertTrue(receiver.waitFor(60, java.util.concurrent.TimeUnit.SECONDS));
        assertEquals(sent, received, "SHA-256 of what was sent here and what arrived in the namespace");
    }

    /** The Java end's packets to a TUN device, flushed at each batch's end. */
    private static WireGuardDevice.PacketSink tunSink(io.cloudbridge.api.tun.TunDevice tun) {
        return new WireGuardDevice.PacketSink() {
            @Override
            public void deliver(Peer peer, byte[] packet, int length) {
                try {
                    tun.write(packet, length);
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }

            @Override
            public void flush() {
                try {
                    tun.flush();
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }
        };
    }

    /**
     * wireguard-go's endpoint moves (it listens on another port, as after a NAT rebinding): the
     * Java end follows its authenticated packets to the new endpoint and answers there.
     * (Moving wireguard-go's IP address instead does not work with the packaged version, whose
     * sticky source address outlives the address.)
     */
    @Test
    void roamingFollowsThePeersNewEndpoint() throws Exception {
        try (JavaEnd node = new JavaEnd("10.99.7.8", null, true)) {
            String out = lab.inLab("ping", "-c", "2", "-i", "0.2", "-W", "2", "10.99.7.8");
            assertTrue(out.contains("2 received"), out);
            assertEquals(new InetSocketAddress("10.250.7.2", 51820), node.peer.endpoint());
            lab.inLab("wg", "set", IFACE, "listen-port", "51821");
            try {
                out = lab.inLab("ping", "-c", "3", "-i", "0.2", "-W", "2", "10.99.7.8");
                assertTrue(out.contains("3 received"), "traffic follows the move: " + out);
                assertEquals(new InetSocketAddress("10.250.7.2", 51821), node.peer.endpoint());
            } finally {
                lab.inLab("wg", "set", IFACE, "listen-port", "51820");
            }
        }
    }

    /** A crashed engine leaves no interface or route behind: the kernel removes a TUN device with its last descriptor. */
    @Test
    void aKilledEngineLeavesNoInterfaceBehind() throws Exception {
        Path key = Files.createTempFile("crash", ".key");
        Files.writeString(key, NamespaceLab.wg(null, "genkey") + "\n");
        Process node = new ProcessBuilder("ip", "netns", "exec", lab.namespace,
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp", System.getProperty("java.class.path"),
                TunNode.class.getName(), "--tun", "cbcrash0", "--address", "10.98.0.1/24", "--listen", "127.0.0.1:0",
                "--private-key-file", key.toString(), "--peer", goPublic, "--allowed", "10.98.0.2/32")
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        try {
            NamespaceLab.await(Duration.ofSeconds(20), "the engine's TUN device with its route", () -> {
                try {
                    return lab.inLab("ip", "route", "show", "dev", "cbcrash0").contains("10.98.0.2");
                } catch (Exception notYet) {
                    return false;
                }
            });
            node.destroyForcibly().waitFor(); // SIGKILL: no shutdown hook runs
            NamespaceLab.await(Duration.ofSeconds(5), "the interface gone with the process",
                    () -> NamespaceLab.runQuietly("ip", "-n", lab.namespace, "link", "show", "cbcrash0") != 0);
            String routes = lab.inLab("ip", "route", "show");
            assertTrue(!routes.contains("cbcrash0") && !routes.contains("10.98.0."), "no route left: " + routes);
        } finally {
            node.destroyForcibly();
        }
    }

    /** The Java end renews its session every second (REKEY_AFTER_TIME shrunk) under a steady ping: no gap. */
    @Test
    void rekeyingCarriesTrafficWithoutAGap() throws Exception {
        Timers rekeyEverySecond = new Timers(Duration.ofSeconds(1), Duration.ofSeconds(3), Duration.ofSeconds(10),
                Duration.ofMillis(500), Duration.ofSeconds(1), Duration.ZERO);
        try (JavaEnd node = new JavaEnd("10.99.7.6", null, true, rekeyEverySecond)) {
            node.ping("10.99.7.6", "10.99.7.2", 1); // the Java end initiates, so it is the one that renews
            NamespaceLab.await(Duration.ofSeconds(5), "first session", () -> node.echoReplies.containsKey(1));
            String out = lab.inLab("ping", "-c", "40", "-i", "0.1", "-W", "1", "10.99.7.6");
            assertTrue(out.contains("40 received"), out);
            assertTrue(node.peer.handshakesCompleted() >= 4, "4 s of traffic renewed every second: "
                    + node.peer.handshakesCompleted() + " handshakes");
        }
    }

    /** The stock {@code wg} tool shows and changes the Java engine through its UAPI socket. */
    @Test
    void wgShowAndSetWorkOnTheJavaEngine() throws Exception {
        try (JavaEnd node = new JavaEnd("10.99.7.7", null, true);
                UapiServer uapi = new UapiServer(node.device, Path.of("/var/run/wireguard"), "cbjv0")) {
            node.ping("10.99.7.7", "10.99.7.2", 1);
            NamespaceLab.await(Duration.ofSeconds(5), "a session", () -> node.echoReplies.containsKey(1));
            String shown = NamespaceLab.run(true, "wg", "show", "cbjv0");
            assertTrue(shown.contains("peer: " + goPublic), shown);
            assertTrue(shown.contains("endpoint: 10.250.7.2:51820"), shown);
            assertTrue(shown.contains("allowed ips: 10.99.7.0/24"), shown);
            assertTrue(shown.contains("latest handshake: "), shown);
            assertTrue(shown.contains("listening port: " + node.port), shown);

            String other = NamespaceLab.wg(NamespaceLab.wg(null, "genkey"), "pubkey");
            NamespaceLab.run(true, "wg", "set", "cbjv0", "peer", other, "allowed-ips", "10.9.9.9/32,fd09::9/128",
                    "endpoint", "127.0.0.1:4567", "persistent-keepalive", "25");
            Peer added = node.device.peer(Base64.getDecoder().decode(other));
            assertTrue(added != null, "wg set added the peer");
            assertEquals(new InetSocketAddress("127.0.0.1", 4567), added.endpoint());
            assertEquals(List.of(IpPrefix.parse("10.9.9.9/32"), IpPrefix.parse("fd09::9/128")), added.allowedIps());
            assertEquals(Duration.ofSeconds(25), added.persistentKeepalive);
            NamespaceLab.run(true, "wg", "set", "cbjv0", "peer", other, "remove");
            assertEquals(null, node.device.peer(Base64.getDecoder().decode(other)));

            // Bad requests get an errno and change nothing; the socket keeps serving.
            assertEquals("errno=71\n\n", uapiExchange(uapi.socket(), "nonsense\n"));
            assertEquals("errno=22\n\n", uapiExchange(uapi.socket(), "set=1\npublic_key=zz\n\n"));
            assertEquals("errno=22\n\n", uapiExchange(uapi.socket(),
                    "set=1\npublic_key=" + "11".repeat(32) + "\nendpoint=example.com:1\n\n"));
            assertEquals(1, node.device.peers().size(), "the refused set added no peer");
            assertEquals("errno=22\n\n", uapiExchange(uapi.socket(),
                    "set=1\nreplace_peers=true\npublic_key=" + "00".repeat(32) + "\n\n"));
            assertEquals(1, node.device.peers().size(), "a refused replace_peers removed nothing");
            assertEquals("errno=0\n\n", uapiExchange(uapi.socket(),
                    "set=1\npublic_key=" + "22".repeat(32) + "\nupdate_only=true\nallowed_ip=10.5.5.5/32\n\n"));
            assertEquals(1, node.device.peers().size(), "update_only does not create a peer");
            assertEquals("", uapiExchange(uapi.socket(), "set=1\n" + "x".repeat(UapiServer.MAX_REQUEST_BYTES + 10) + "\n"));
            assertTrue(uapiExchange(uapi.socket(), "get=1\n\n").endsWith("errno=0\n\n"));
        }
    }

    private static String uapiExchange(Path socket, String request) throws Exception {
        try (java.nio.channels.SocketChannel c = java.nio.channels.SocketChannel.open(java.net.StandardProtocolFamily.UNIX)) {
            c.connect(java.net.UnixDomainSocketAddress.of(socket));
            try {
                c.write(java.nio.ByteBuffer.wrap(request.getBytes(StandardCharsets.US_ASCII)));
                c.shutdownOutput();
            } catch (java.io.IOException closedEarly) {
                // an oversized request is cut off by the server
            }
            java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
            java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(4096);
            try {
                while (c.read(b.clear()) > 0) {
                    out.write(b.array(), 0, b.position());
                }
            } catch (java.io.IOException reset) {
                // closed by the server
            }
            return out.toString(StandardCharsets.US_ASCII);
        }
    }

    @Test
    void aPresharedKeyWorksBothWays() throws Exception {
        try (JavaEnd java = new JavaEnd("10.99.7.4", psk, true)) {
            String out = lab.inLab("ping", "-c", "2", "-i", "0.2", "-W", "2", "10.99.7.4");
            assertTrue(out.contains("2 received"), out);
            java.ping("10.99.7.4", "10.99.7.2", 9);
            NamespaceLab.await(Duration.ofSeconds(5), "echo reply under the pre-shared key", () -> java.echoReplies.containsKey(9));
        }
    }

    @Test
    void aStrangerGetsNoSessionAndNothingBreaks() throws Exception {
        try (JavaEnd stranger = new JavaEnd("10.99.7.9", null, false);
                JavaEnd java = new JavaEnd("10.99.7.5", null, true)) {
            stranger.ping("10.99.7.9", "10.99.7.2", 1);
            assertTrue(stranger.peer.lastHandshakeSent.isAfter(Instant.EPOCH), "the stranger's initiation went out");
            // wireguard-go takes handshakes in the order they arrive: once a known peer's, sent
            // after the stranger's, has completed, the stranger's has been dealt with — dropped
            // silently, with no response and no session.
            java.ping("10.99.7.5", "10.99.7.2", 1);
            NamespaceLab.await(Duration.ofSeconds(5), "echo reply for the known peer", () -> java.echoReplies.containsKey(1));
            assertEquals(null, stranger.peer.lastHandshake());
            assertTrue(stranger.echoReplies.isEmpty());
            assertTrue(stranger.device.drops().isEmpty(), "nothing came back to drop: " + stranger.device.drops());
        }
    }
}
