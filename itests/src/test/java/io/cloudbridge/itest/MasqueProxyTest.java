package io.cloudbridge.itest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.control.v1.RegisterResponse;
import io.cloudbridge.testing.Requirements;
import io.grpc.ManagedChannel;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpRequest;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tech.kwik.flupke.Http3Client;
import tech.kwik.flupke.HttpError;
import tech.kwik.flupke.HttpStream;
import tech.kwik.flupke.core.Capsule;
import tech.kwik.flupke.core.CapsuleProtocolStream;
import tech.kwik.flupke.core.GenericCapsule;
import tech.kwik.flupke.impl.CapsuleProtocolStreamImpl;

/**
 * The relay's MASQUE proxy, asked by a client it has never met: Flupke, an independent HTTP/3
 * implementation (on the Kwik QUIC stack), sends extended CONNECT requests for connect-udp and
 * speaks the Capsule Protocol. A DNS query to a real DNS server (dnsmasq on loopback, opened to
 * the tenant by masque.allow) goes through in a DATAGRAM capsule and its answer comes back; what
 * the RFCs and the policy refuse gets its HTTP status; malformed capsule streams are aborted; the
 * per-client limit holds against 1,000 requests; idle tunnels close. (Flupke decodes the path before it
 * sends it, so percent-encoding is tested in the proxy's unit tests.)
 */
class MasqueProxyTest {
    @TempDir
    Path work;
    private Process dns;
    private Daemon relay;
    private Http3Client client;
    private int quicPort;
    private int dnsPort;
    private String acmeToken;
    private String otherToken;
    private int controlPort;
    private Daemon node;

    /** A relay with the masque feature, its tunnels idling out after {@code idleSeconds}, and dnsmasq beside it. */
    void relayAndDnsServer(int idleSeconds) throws Exception {
        startDnsServer();
        controlPort = RuntimeTestSupport.freeTcpPort();
        quicPort = RuntimeTestSupport.freeUdpPort();
        relay = new Daemon(Files.createDirectories(work.resolve("relay")));
        relay.command = "relay";
        RuntimeTestSupport.writeOwnerOnly(relay.config, RuntimeTestSupport.masqueRelayYaml(controlPort, quicPort,
                "  allow: [acme=127.0.0.1/32]", "  deny: ['*=198.51.100.0/24']", "  idleSeconds: " + idleSeconds,
                "  maxTunnelsPerClient: 8", "  maxPayload: 1400", "logging:", "  loggers: [io.cloudbridge.masque=debug]"));
        relay.start();
        Await.until(Duration.ofSeconds(20), "the MASQUE proxy up; log:\n" + relay.logText(),
                () -> relay.logText().contains("MASQUE proxy on the relay's QUIC listener"));
        awaitDnsServer();

        String acme = relay.exec("relay:key", "create", "--tenant", "acme", "--reusable").out().trim();
        String other = relay.exec("relay:key", "create", "--tenant", "other", "--reusable").out().trim();
        ManagedChannel channel = ControlPlaneTest.channel(controlPort);
        try {
            RegisterResponse node = ControlPlaneTest.register(channel, acme, RelayAbuseTest.randomKey());
            RegisterResponse stranger = ControlPlaneTest.register(channel, other, RelayAbuseTest.randomKey());
            acmeToken = node.getToken().getJwt();
            otherToken = stranger.getToken().getJwt();
        } finally {
            channel.shutdownNow();
        }
        client = (Http3Client) Http3Client.newBuilder().disableCertificateCheck().connectTimeout(Duration.ofSeconds(5)).build();
    }

    /**
     * dnsmasq on a free port: it listens on TCP as well as UDP on its port, and a port free for UDP
     * may be taken on TCP (a CI run's dnsmasq exited: "Address already in use"), so a port is
     * checked both ways, and another is tried if dnsmasq still finds it taken.
     */
    private void startDnsServer() throws Exception {
        // dnsmasq is in /usr/sbin, which an ordinary user's PATH does not hold
        java.nio.file.Path dnsmasq = Requirements.requireTool("dnsmasq", "apt-get install dnsmasq-base");
        for (int attempt = 1; ; attempt++) {
            dnsPort = RuntimeTestSupport.freeUdpPort();
            try (java.net.ServerSocket tcp = new java.net.ServerSocket(dnsPort, 1, java.net.InetAddress.getLoopbackAddress())) {
                tcp.setReuseAddress(true);
            } catch (IOException takenOnTcp) {
                continue;
            }
            java.nio.file.Path log = work.resolve("dnsmasq.log");
            dns = new ProcessBuilder(dnsmasq.toString(), "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
                    "--listen-address=127.0.0.1", "--bind-interfaces", "--port=" + dnsPort, "--pid-file=",
                    "--address=/example.lab/192.0.2.7", "--user=" + System.getProperty("user.name"))
                    .redirectErrorStream(true).redirectOutput(log.toFile()).start();
            if (!dns.waitFor(300, TimeUnit.MILLISECONDS) || attempt == 5) {
                return; // still running (or out of attempts: awaitDnsServer says why)
            }
        }
    }

    /** dnsmasq answers straight (no tunnel) before any test goes through the proxy: a failure then is the proxy's. */
    private void awaitDnsServer() throws Exception {
        try (java.net.DatagramSocket probe = new java.net.DatagramSocket()) {
            probe.setSoTimeout(200);
            byte[] query = dnsQuery(1);
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (System.nanoTime() < deadline) {
                if (!dns.isAlive()) {
                    break;
                }
                probe.send(new java.net.DatagramPacket(query, query.length, java.net.InetAddress.getLoopbackAddress(), dnsPort));
                java.net.DatagramPacket answer = new java.net.DatagramPacket(new byte[512], 512);
                try {
                    probe.receive(answer);
                    assertEquals("192.0.2.7", firstAnswer(Arrays.copyOf(answer.getData(), answer.getLength()), 1));
                    return;
                } catch (java.net.SocketTimeoutException notYet) {
                    // dnsmasq still starting: ask again
                }
            }
        }
        throw new AssertionError("dnsmasq on 127.0.0.1:" + dnsPort + " does not answer (" + (dns.isAlive() ? "running" : "exited "
                + dns.exitValue()) + "); its log:\n" + Files.readString(work.resolve("dnsmasq.log")));
    }

    @AfterEach
    void stop() throws Exception {
        if (node != null) {
            node.close();
        }
        if (relay != null) {
            relay.close();
        }
        if (dns != null) {
            dns.destroy();
            dns.waitFor(5, TimeUnit.SECONDS);
        }
    }

    private HttpRequest request(String path, String token, boolean capsuleProtocol) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + quicPort + path));
        if (token != null) {
            b.header("authorization", "Bearer " + token);
        }
        if (capsuleProtocol) {
            b.header("capsule-protocol", "?1");
        }
        return b.build();
    }

    private String udpPath(String host, Object port) {
        return "/.well-known/masque/udp/" + host + "/" + port + "/";
    }

    private HttpStream connectUdp(String path, String token) throws Exception {
        return client.sendExtendedConnect(request(path, token, true), "connect-udp", "https");
    }

    private int refusal(HttpRequest request, String protocol) {
        HttpError e = assertThrows(HttpError.class, () -> client.sendExtendedConnect(request, protocol, "https"));
        return e.getStatusCode();
    }

    /** A DNS query for example.lab, type A (RFC 1035 section 4.1). */
    static byte[] dnsQuery(int id) {
        ByteBuffer q = ByteBuffer.allocate(29);
        q.putShort((short) id).putShort((short) 0x0100).putShort((short) 1).putShort((short) 0).putInt(0);
        q.put((byte) 7).put("example".getBytes()).put((byte) 3).put("lab".getBytes()).put((byte) 0);
        q.putShort((short) 1).putShort((short) 1);
        return q.array();
    }

    /** The first A record of a DNS answer to {@link #dnsQuery}, as dotted quad. */
    static String firstAnswer(byte[] answer, int id) {
        ByteBuffer a = ByteBuffer.wrap(answer);
        assertEquals(id, a.getShort() & 0xffff, "the answer to our query");
        a.position(29); // header and the echoed question
        a.getShort(); // the name, a pointer to the question's
        assertEquals(1, a.getShort(), "type A");
        a.getShort();
        a.getInt();
        assertEquals(4, a.getShort());
        return (a.get() & 0xff) + "." + (a.get() & 0xff) + "." + (a.get() & 0xff) + "." + (a.get() & 0xff);
    }

    private static byte[] datagramCapsuleValue(byte[] payload) {
        byte[] value = new byte[payload.length + 1]; // context id 0, then the UDP payload (RFC 9298 section 5)
        System.arraycopy(payload, 0, value, 1, payload.length);
        return value;
    }

    private static Capsule receive(CapsuleProtocolStream capsules) throws Exception {
        CompletableFuture<Capsule> got = CompletableFuture.supplyAsync(() -> {
            try {
                return capsules.receive();
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        });
        return got.get(5, TimeUnit.SECONDS);
    }

    @Test
    void aDnsQueryGoesThroughConnectUdpAndWhatTheRfcsAndThePolicyRefuseGetsItsStatus() throws Exception {
        relayAndDnsServer(2);
        HttpStream stream = connectUdp(udpPath("127.0.0.1", dnsPort), acmeToken);
        CapsuleProtocolStream capsules = new CapsuleProtocolStreamImpl(stream);
        // An unknown capsule type first: the proxy skips it (RFC 9297 section 3.2).
        capsules.send(new GenericCapsule(0x2a, new byte[] {1, 2, 3}));
        capsules.send(new GenericCapsule(0x00, datagramCapsuleValue(dnsQuery(0x1234))));
        Capsule reply;
        try {
            reply = receive(capsules);
        } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
            throw new AssertionError("no answer through the tunnel; the relay: " + relay.exec("masque:tunnels").out() + relay.logText()
                    + "\ndnsmasq: " + Files.readString(work.resolve("dnsmasq.log")), e);
        }
        assertEquals(0x00, reply.getType(), "a DATAGRAM capsule back (Flupke does not enable HTTP datagrams)");
        byte[] value = ((GenericCapsule) reply).getData();
        assertEquals(0, value[0], "context id 0");
        assertEquals("192.0.2.7", firstAnswer(Arrays.copyOfRange(value, 1, value.length), 0x1234));
        // The same tunnel carries more: a second query.
        capsules.send(new GenericCapsule(0x00, datagramCapsuleValue(dnsQuery(0x4321))));
        byte[] second = ((GenericCapsule) receive(capsules)).getData();
        assertEquals("192.0.2.7", firstAnswer(Arrays.copyOfRange(second, 1, second.length), 0x4321));
        capsules.close();

        // What the RFCs refuse, and what the policy refuses.
        String dnsTarget = udpPath("127.0.0.1", dnsPort);
        assertEquals(401, refusal(request(dnsTarget, null, true), "connect-udp"), "no token");
        assertEquals(401, refusal(request(dnsTarget, "not.a.token", true), "connect-udp"), "a forged token");
        assertEquals(400, refusal(request(dnsTarget, acmeToken, false), "connect-udp"), "no capsule-protocol");
        assertEquals(501, refusal(request(dnsTarget, acmeToken, true), "connect-tcp"), "a protocol not served");
        assertEquals(404, refusal(request("/not/the/template/", acmeToken, true), "connect-udp"));
        assertEquals(400, refusal(request(udpPath("exa_mple", 53), acmeToken, true), "connect-udp"), "not a host name (underscore)");
        assertEquals(400, refusal(request(udpPath("example.lab", 70000), acmeToken, true), "connect-udp"), "port out of range");
        assertEquals(400, refusal(request(udpPath("-bad-.lab", 53), acmeToken, true), "connect-udp"), "not a host name");
        assertEquals(403, refusal(request(dnsTarget, otherToken, true), "connect-udp"), "loopback is opened to acme only");
        assertEquals(403, refusal(request(udpPath("10.1.2.3", 53), acmeToken, true), "connect-udp"), "private address");
        assertEquals(403, refusal(request(udpPath("169.254.169.254", 80), acmeToken, true), "connect-udp"), "link-local (metadata)");
        assertEquals(403, refusal(request(udpPath("198.51.100.9", 53), acmeToken, true), "connect-udp"), "masque.deny");
        assertEquals(502, refusal(request(udpPath("no-such-name.invalid", 53), acmeToken, true), "connect-udp"), "no such name");
        HttpError plain = assertThrows(HttpError.class, () -> client.sendConnect(request(dnsTarget, acmeToken, true)));
        assertEquals(400, plain.getStatusCode(), "CONNECT without :protocol");

        // After all that, the connection still serves.
        HttpStream again = connectUdp(dnsTarget, acmeToken);
        CapsuleProtocolStream more = new CapsuleProtocolStreamImpl(again);
        more.send(new GenericCapsule(0x00, datagramCapsuleValue(dnsQuery(7))));
        byte[] third = ((GenericCapsule) receive(more)).getData();
        assertEquals("192.0.2.7", firstAnswer(Arrays.copyOfRange(third, 1, third.length), 7));
        // Left idle, the tunnel ends after masque.idleSeconds (2 s): the proxy finishes its stream.
        long idleFrom = System.nanoTime();
        assertTrue(ending(again).startsWith("end of stream"), "an idle tunnel ends cleanly");
        long idled = (System.nanoTime() - idleFrom) / 1_000_000;
        assertTrue(idled > 1000 && idled < 6000, "ended after " + idled + " ms idle");
        String log = relay.logText();
        assertTrue(!log.contains(acmeToken) && !log.contains(otherToken), "no token in the log");
    }

    /** Writes raw bytes on a tunnel's stream and closes it: a capsule cut short, or one too large. */
    private static void sendRaw(HttpStream stream, byte[] bytes, boolean close) throws IOException {
        OutputStream out = stream.getOutputStream();
        out.write(bytes);
        out.flush();
        if (close) {
            out.close();
        }
    }

    /** Reads the stream to its end or its reset; what ended it. */
    private static String ending(HttpStream stream) throws Exception {
        CompletableFuture<String> end = CompletableFuture.supplyAsync(() -> {
            try {
                ByteArrayOutputStream rest = new ByteArrayOutputStream();
                stream.getInputStream().transferTo(rest);
                return "end of stream after " + rest.size() + " bytes";
            } catch (IOException e) {
                return "reset: " + e.getMessage();
            }
        });
        return end.get(10, TimeUnit.SECONDS);
    }

    @Test
    void malformedCapsuleStreamsAreAbortedAndTheTunnelLimitHoldsAgainstAThousandRequests() throws Exception {
        relayAndDnsServer(60);
        String dnsTarget = udpPath("127.0.0.1", dnsPort);
        // A DATAGRAM capsule cut short by the end of the stream: aborted (RFC 9297 section 3.3).
        HttpStream truncated = connectUdp(dnsTarget, acmeToken);
        sendRaw(truncated, new byte[] {0x00, 0x10, 0x00, 0x01}, true);
        assertTrue(ending(truncated).startsWith("reset"), "a truncated capsule aborts the stream");
        // A DATAGRAM capsule over masque.maxPayload (1,400): aborted, nothing sent on.
        HttpStream oversized = connectUdp(dnsTarget, acmeToken);
        byte[] big = new byte[3 + 1 + 2000];
        big[0] = 0x00;
        big[1] = (byte) (0x40 | (2001 >> 8));
        big[2] = (byte) (2001 & 0xff);
        sendRaw(oversized, big, false);
        assertTrue(ending(oversized).startsWith("reset"), "an oversized capsule aborts the stream");

        // 1,000 tunnels asked by one node: eight are open (masque.maxTunnelsPerClient), the rest get 429.
        List<HttpStream> held = new ArrayList<>();
        int tooMany = 0;
        for (int i = 0; i < 1000; i++) {
            try {
                held.add(connectUdp(dnsTarget, acmeToken));
            } catch (HttpError e) {
                assertEquals(429, e.getStatusCode());
                tooMany++;
            }
        }
        assertEquals(8, held.size());
        assertEquals(992, tooMany);
        // Another tenant's node is not counted against acme's: its refusal is the policy's, not the limit's.
        assertEquals(403, refusal(request(dnsTarget, otherToken, true), "connect-udp"));

        // The client ends its tunnels (FIN on each stream): the proxy closes them, and the slots come back.
        for (HttpStream s : held) {
            s.getOutputStream().close();
            assertTrue(ending(s).startsWith("end of stream"), "a tunnel the client ended ends on the proxy's side too");
        }
        HttpStream fresh = connectUdp(dnsTarget, acmeToken);
        CapsuleProtocolStream capsules = new CapsuleProtocolStreamImpl(fresh);
        capsules.send(new GenericCapsule(0x00, datagramCapsuleValue(dnsQuery(99))));
        byte[] answer;
        try {
            answer = ((GenericCapsule) receive(capsules)).getData();
        } catch (java.util.concurrent.TimeoutException e) {
            throw new AssertionError("no answer on a fresh tunnel; the relay: " + relay.exec("masque:tunnels").out() + relay.logText(), e);
        }
        assertEquals("192.0.2.7", firstAnswer(Arrays.copyOfRange(answer, 1, answer.length), 99));
    }

    /**
     * Our node as the client: {@code tunnel:udp} listens on a local port and forwards through its
     * home relay's proxy. The node enables HTTP Datagrams, so the DNS query and its answer travel
     * in QUIC DATAGRAM frames both ways (the relay's masque:tunnels tells), not in capsules.
     */
    @Test
    void aNodeForwardsALocalUdpPortThroughItsRelaysProxyInHttpDatagrams() throws Exception {
        relayAndDnsServer(60);
        String key = relay.exec("relay:key", "create", "--tenant", "acme", "--reusable").out().trim();
        Path dir = Files.createDirectories(work.resolve("node"));
        Path keyFile = dir.resolve("preauth.key");
        RuntimeTestSupport.writeOwnerOnly(keyFile, key + "\n");
        node = new Daemon(dir);
        node.command = "up";
        RuntimeTestSupport.writeOwnerOnly(node.config, RuntimeTestSupport.nodeYaml(dir, "n1", controlPort,
                "  transports: [quic://127.0.0.1:" + quicPort + "]", "ice:", "  directPaths: false")
                .replace("  features: [core, shell, client]", "  features: [core, shell, client, masque]")
                + "logging:\n  loggers: [io.cloudbridge.masque=debug]\n");
        node.start("--pre-auth-key-file", keyFile.toString(), "--userspace");
        Await.until(Duration.ofSeconds(20), "registered", () -> !node.whoami("address").isEmpty());

        Daemon.Result opened = node.exec("tunnel:udp", "0", "127.0.0.1:" + dnsPort);
        assertEquals(0, opened.exit(), opened.out() + opened.err() + "\nnode log:\n" + node.logText() + "\nrelay log:\n" + relay.logText());
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("UDP 127\\.0\\.0\\.1:(\\d+) -> ").matcher(opened.out());
        assertTrue(m.find(), opened.out());
        int localPort = Integer.parseInt(m.group(1));
        try (java.net.DatagramSocket dig = new java.net.DatagramSocket()) {
            dig.setSoTimeout(5000);
            byte[] query = dnsQuery(0x5151);
            dig.send(new java.net.DatagramPacket(query, query.length, java.net.InetAddress.getLoopbackAddress(), localPort));
            java.net.DatagramPacket answer = new java.net.DatagramPacket(new byte[512], 512);
            try {
                dig.receive(answer);
            } catch (java.net.SocketTimeoutException e) {
                throw new AssertionError("no answer through the node's tunnel; the relay: " + relay.exec("masque:tunnels").out()
                        + "\nnode: " + node.exec("tunnel:list").out() + node.logText() + "\nrelay log:\n" + relay.logText(), e);
            }
            assertEquals("192.0.2.7", firstAnswer(Arrays.copyOf(answer.getData(), answer.getLength()), 0x5151));
        }
        String list = node.exec("tunnel:list").out();
        assertTrue(list.contains("127.0.0.1:" + dnsPort) && list.contains("open"), list);
        String carried = relay.exec("masque:tunnels").out();
        assertTrue(carried.contains("1 CONNECT-UDP tunnels") && carried.contains("1/0, 1/0"),
                "one datagram each way, no capsule:\n" + carried + "\nrelay log:\n" + relay.logText());

        // A target the policy refuses: the proxy's 403 and its reason reach the operator.
        Daemon.Result refused = node.exec("tunnel:udp", "0", "10.1.2.3:53");
        assertTrue((refused.out() + refused.err()).contains("403"), refused.out() + refused.err());

        String id = list.lines().filter(l -> l.contains("127.0.0.1:" + dnsPort)).findFirst().orElseThrow().split("\\s+")[0];
        assertTrue(node.exec("tunnel:close", id).out().contains("closed"));
        Await.until(Duration.ofSeconds(5), "the relay let the tunnel go", () -> relay.exec("masque:tunnels").out().contains("0 CONNECT-UDP"));
        assertTrue(node.exec("tunnel:list").out().contains("no tunnels"));
    }

    /**
     * HTTP Datagrams made by hand on a raw HTTP/3 connection (Netty's codec, datagrams enabled):
     * one with a context id the proxy never agreed to, one for a stream that is no tunnel and one
     * over masque.maxPayload are dropped and counted, the tunnel carries on; one too short for a Quarter Stream ID closes the
     * connection with H3_DATAGRAM_ERROR (RFC 9297 section 2.1).
     */
    @Test
    void datagramsTheProxyCannotPlaceAreDroppedAndOneWithoutAStreamIdClosesTheConnection() throws Exception {
        relayAndDnsServer(60);
        try (RawH3 h3 = new RawH3(quicPort)) {
            // The proxy's SETTINGS come first on its control stream; extended CONNECT waits for them only in
            // clients that check, and this one does not need to: the proxy always enables it.
            RawH3.Request tunnel = h3.connect("connect-udp", udpPath("127.0.0.1", dnsPort), acmeToken, true);
            assertEquals("200", tunnel.status.get(10, TimeUnit.SECONDS));
            long quarter = tunnel.quarter();
            assertTrue(quarter < 64, "a one-byte quarter stream id keeps the datagrams below simple");
            byte[] query = dnsQuery(0x0707);

            h3.datagram(concat(new byte[] {(byte) quarter, 0x05}, query));
            h3.datagram(concat(new byte[] {(byte) (quarter + 40), 0x00}, query));
            // A payload of 1,401 bytes, over masque.maxPayload: dropped, not cut, and counted.
            byte[] tooBig = new byte[1401];
            System.arraycopy(query, 0, tooBig, 0, query.length);
            h3.datagram(concat(new byte[] {(byte) quarter, 0x00}, tooBig));
            Await.until(Duration.ofSeconds(5), "all three dropped and counted, each where it was",
                    () -> relay.exec("masque:tunnels").out().contains("datagrams dropped: 3 (unknown context 1, no tunnel 1, too large 1)"));
            assertTrue(h3.datagrams.isEmpty(), "nothing came back for them");

            h3.datagram(concat(new byte[] {(byte) quarter, 0x00}, query));
            byte[] answer = h3.datagrams.poll(5, TimeUnit.SECONDS);
            assertTrue(answer != null, "the answer comes back as an HTTP Datagram");
            assertEquals(quarter, answer[0]);
            assertEquals(0, answer[1], "context id 0");
            assertEquals("192.0.2.7", firstAnswer(Arrays.copyOfRange(answer, 2, answer.length), 0x0707));

            // A varint cut short where the Quarter Stream ID should be.
            h3.datagram(new byte[] {0x40});
            assertEquals(0x33L, h3.closedWith.get(5, TimeUnit.SECONDS), "H3_DATAGRAM_ERROR");
        }
    }

    static byte[] concat(byte[] a, byte[] b) {
        byte[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
