package io.cloudbridge.itest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.control.v1.RegisterResponse;
import io.grpc.ManagedChannel;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.handler.codec.quic.QuicChannel;
import io.netty.handler.codec.quic.QuicClientCodecBuilder;
import io.netty.handler.codec.quic.QuicConnectionCloseEvent;
import io.netty.handler.codec.quic.QuicSslContextBuilder;
import io.netty.handler.codec.quic.QuicStreamChannel;
import io.netty.handler.codec.quic.QuicStreamType;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import java.io.InputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A relay's transports fed what strangers send: QUIC connections for a protocol nobody serves,
 * that never sign in, that sign in with a forged or a removed node's token, that say what the
 * protocol does not; datagrams too short or for another tenant; a WebSocket handshake that never
 * ends (slowloris); 10,000 connection attempts. Each has a bounded cost and a clear close reason,
 * and the relay goes on serving.
 */
class RelayAbuseTest {
    @TempDir
    Path work;

    /** A QUIC connection made by hand, with what it is told. */
    static final class RawQuic implements AutoCloseable {
        final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        final CompletableFuture<String> closed = new CompletableFuture<>();
        final LinkedBlockingQueue<String> lines = new LinkedBlockingQueue<>();
        final LinkedBlockingQueue<String> mtuLines = new LinkedBlockingQueue<>();
        QuicChannel connection;
        QuicStreamChannel control;

        RawQuic(int port, String alpn) throws Exception {
            Channel udp = new Bootstrap().group(group).channel(NioDatagramChannel.class).handler(new QuicClientCodecBuilder()
                    .sslContext(QuicSslContextBuilder.forClient().trustManager(InsecureTrustManagerFactory.INSTANCE)
                            .applicationProtocols(alpn).build())
                    .maxIdleTimeout(30, TimeUnit.SECONDS).initialMaxData(1 << 20).initialMaxStreamDataBidirectionalLocal(1 << 16)
                    .datagram(64, 64).build()).bind(0).sync().channel();
            connection = QuicChannel.newBootstrap(udp).remoteAddress(new InetSocketAddress("127.0.0.1", port))
                    .handler(new ChannelInboundHandlerAdapter() {
                        @Override
                        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                            if (evt instanceof QuicConnectionCloseEvent e) {
                                closed.complete(e.error() + " " + new String(e.reason(), StandardCharsets.UTF_8));
                            }
                        }

                        @Override
                        public void channelInactive(ChannelHandlerContext ctx) {
                            closed.complete("closed");
                        }
                    }).connect().get(10, TimeUnit.SECONDS);
        }

        void openControl() throws Exception {
            control = connection.createStream(QuicStreamType.BIDIRECTIONAL, new ChannelInboundHandlerAdapter() {
                @Override
                public void channelRead(ChannelHandlerContext ctx, Object msg) {
                    ByteBuf b = (ByteBuf) msg;
                    // MTU lines come whenever the relay's path MTU discovery moves: kept apart from the answers.
                    b.toString(StandardCharsets.UTF_8).lines().forEach(l -> (l.startsWith("MTU ") ? mtuLines : lines).add(l));
                    b.release();
                }
            }).get(10, TimeUnit.SECONDS);
        }

        void send(String line) {
            control.writeAndFlush(Unpooled.copiedBuffer(line + "\n", StandardCharsets.UTF_8));
        }

        void datagram(byte[] bytes) {
            connection.writeAndFlush(Unpooled.wrappedBuffer(bytes));
        }

        String closeReason() throws Exception {
            return closed.get(10, TimeUnit.SECONDS);
        }

        @Override
        public void close() {
            connection.close();
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        }
    }

    @Test
    void strangersCostLittleAndLearnWhy() throws Exception {
        int controlPort = RuntimeTestSupport.freeTcpPort();
        int tlsPort = RuntimeTestSupport.freeTcpPort();
        int quicPort = RuntimeTestSupport.freeUdpPort();
        int stunPort = RuntimeTestSupport.freeUdpPort();
        Daemon relay = new Daemon(Files.createDirectories(work.resolve("relay")));
        relay.command = "relay";
        RuntimeTestSupport.writeOwnerOnly(relay.config, String.join("\n",
                "relay:", "  listenAddress: 127.0.0.1", "  controlPort: " + controlPort, "  jwksPort: 0",
                "listeners:", "  address: 127.0.0.1", "  tlsPort: " + tlsPort, "  quicPort: " + quicPort, "  firstRequestSeconds: 2",
                "  stunPort: " + stunPort,
                "quic:", "  authSeconds: 2", ""));
        try (Daemon r = relay.start()) {
            Await.until(Duration.ofSeconds(20), "the relay's QUIC route", () -> r.logText().contains("relay QUIC protocol cloudbridge/1"));
            stunResponder(r, stunPort);
            String acme = r.exec("relay:key", "create", "--tenant", "acme", "--reusable").out().trim();
            String other = r.exec("relay:key", "create", "--tenant", "other", "--reusable").out().trim();
            RegisterResponse node;
            RegisterResponse removed;
            RegisterResponse stranger;
            ManagedChannel channel = ControlPlaneTest.channel(controlPort);
            try {
                node = ControlPlaneTest.register(channel, acme, randomKey());
                removed = ControlPlaneTest.register(channel, acme, randomKey());
                stranger = ControlPlaneTest.register(channel, other, randomKey());
            } finally {
                channel.shutdownNow();
            }
            assertTrue(r.exec("relay:node", "delete", removed.getNodeId()).out().contains("removed"));

            // 1,000 sign-ins with keys that do not exist: each refused and worth a security line, of
            // which the log keeps a burst and a rate per kind, and says how many it left out.
            int logBefore = r.logText().length();
            long began = System.nanoTime();
            ManagedChannel guessing = ControlPlaneTest.channel(controlPort);
            try {
                for (int i = 0; i < 1_000; i++) {
                    guessKey(guessing);
                }
            } finally {
                guessing.shutdownNow();
            }
            double seconds = (System.nanoTime() - began) / 1e9;
            Await.until(Duration.ofSeconds(5), "a line saying how many refusals were left out",
                    () -> r.logText().substring(logBefore).contains("were left out (at most 10 a second after a burst of 50)"));
            long securityLines = r.logText().substring(logBefore).lines()
                    .filter(l -> l.contains("\"logger\":\"io.cloudbridge.security\"")).count();
            // At most three kinds (the unknown key, the guessing budget, the tenant's budget), each a
            // burst and a rate, and the lines that report what was left out.
            long bound = 3 * (50 + Math.round(10 * (seconds + 2))) + 10;
            assertTrue(securityLines <= bound && securityLines < 1_000,
                    securityLines + " security log lines for 1,000 refused sign-ins in " + seconds + " s (bound " + bound + ")");

            // A protocol nobody serves: closed at once, saying so.
            try (RawQuic h3 = new RawQuic(quicPort, "h3")) {
                assertTrue(h3.closeReason().contains("no handler for ALPN h3"), h3.closed.getNow(""));
            }
            // Never signing in: closed after quic.authSeconds.
            try (RawQuic silent = new RawQuic(quicPort, "cloudbridge/1")) {
                long start = System.nanoTime();
                assertTrue(silent.closeReason().contains("no AUTH within 2 s"), silent.closed.getNow(""));
                assertTrue(System.nanoTime() - start < Duration.ofSeconds(5).toNanos());
            }
            // A forged token, a removed node's token, a message the protocol does not have.
            assertTrue(refusal(quicPort, "AUTH not.a.token").contains("malformed token"));
            assertTrue(refusal(quicPort, "AUTH " + removed.getToken().getJwt()).contains("node removed"));
            assertTrue(refusal(quicPort, "HELLO").contains("unexpected control message"));

            // Signed in: datagrams too short, and for another tenant's node, are dropped and counted.
            try (RawQuic good = new RawQuic(quicPort, "cloudbridge/1")) {
                good.openControl();
                good.send("AUTH " + node.getToken().getJwt());
                String ok = good.lines.poll(10, TimeUnit.SECONDS);
                assertTrue(ok != null && ok.startsWith("OK "), String.valueOf(ok));
                good.datagram(new byte[5]);
                byte[] toStranger = new byte[32 + 64];
                System.arraycopy(io.cloudbridge.api.net.NodeKey.parse(keyOf(stranger, r)).toBytes(), 0, toStranger, 0, 32);
                toStranger[32] = 4; // a WireGuard transport message
                good.datagram(toStranger);
                good.send("PING");
                assertEquals("PONG", good.lines.poll(10, TimeUnit.SECONDS), "the session survives what it sent");
                String mtu = good.mtuLines.poll(10, TimeUnit.SECONDS);
                assertTrue(mtu != null && mtu.matches("MTU \\d+"), "the relay tells the datagram size its path carries: " + mtu);
                Await.until(Duration.ofSeconds(5), "the drop counted", () -> r.exec("relay:sessions").out().contains("not_connected=1"));
            }

            // Slowloris: a request head that never ends is cut off after listeners.firstRequestSeconds.
            try (SSLSocket slow = (SSLSocket) RelayWebSocketTest.trustAll().getSocketFactory().createSocket("127.0.0.1", tlsPort)) {
                slow.setSoTimeout(10_000);
                slow.getOutputStream().write("GET /cloudbridge/v1/ws HTTP/1.1\r\nHost: x\r\n".getBytes(StandardCharsets.US_ASCII));
                slow.getOutputStream().flush();
                long start = System.nanoTime();
                InputStream in = slow.getInputStream();
                int read;
                try {
                    read = in.read();
                } catch (java.net.SocketException reset) {
                    read = -1;
                }
                assertEquals(-1, read, "the relay closed the connection");
                long took = System.nanoTime() - start;
                assertTrue(took > Duration.ofMillis(1500).toNanos() && took < Duration.ofSeconds(6).toNanos(), "closed after " + took / 1e6 + " ms");
            }

            // 10,000 connection attempts (TCP) and 10,000 stray datagrams (UDP) of every size: the relay's threads stay few.
            int threadsBefore = threads(r.pid());
            for (int i = 0; i < 10_000; i++) {
                try (Socket s = new Socket()) {
                    s.connect(new InetSocketAddress("127.0.0.1", tlsPort), 5_000);
                }
            }
            // Of every size: empty, truncated below any QUIC header, the 1,200 an Initial needs, and
            // beyond what the listener reads in one slot (it is cut there and fails to parse).
            try (DatagramSocket udp = new DatagramSocket()) {
                udp.setSendBufferSize(1 << 20);
                int[] sizes = {0, 1, 20, 1_200, 2_049, 9_000, 65_000};
                byte[] junk = new byte[65_000];
                new SecureRandom().nextBytes(junk);
                junk[0] = (byte) 0xc0; // a long header, as an Initial starts
                for (int i = 0; i < 10_000; i++) {
                    int size = sizes[i % sizes.length];
                    udp.send(new DatagramPacket(junk, size, new InetSocketAddress("127.0.0.1", quicPort)));
                }
            }
            int threadsAfter = threads(r.pid());
            assertTrue(threadsAfter <= threadsBefore + 8, "threads " + threadsBefore + " -> " + threadsAfter);
            // And it still serves.
            try (RawQuic again = new RawQuic(quicPort, "cloudbridge/1")) {
                again.openControl();
                again.send("AUTH " + node.getToken().getJwt());
                String ok = again.lines.poll(10, TimeUnit.SECONDS);
                assertTrue(ok != null && ok.startsWith("OK "), String.valueOf(ok));
            }
        }
    }

    private static void guessKey(ManagedChannel channel) {
        try {
            ControlPlaneTest.register(channel, "cbk_" + java.util.UUID.randomUUID(), randomKey());
            throw new AssertionError("a made-up pre-auth key was accepted");
        } catch (io.grpc.StatusRuntimeException refused) {
            // UNAUTHENTICATED, or RESOURCE_EXHAUSTED once the guessing budget is spent
        }
    }

    /**
     * The STUN responder: a real STUN client (coturn's turnutils_stunclient) learns its reflexive
     * address; what is not a well-formed Binding request gets no answer and is counted; a request
     * with attributes the relay does not honour gets a 420; a flood from one address is cut to its
     * rate, and the responder answers again once the rate allows.
     */
    private static void stunResponder(Daemon r, int stunPort) throws Exception {
        Await.until(Duration.ofSeconds(10), "the STUN responder", () -> r.logText().contains("relay STUN responder on"));
        Process client = new ProcessBuilder("turnutils_stunclient", "-p", String.valueOf(stunPort), "127.0.0.1").redirectErrorStream(true).start();
        assertTrue(client.waitFor(20, TimeUnit.SECONDS), "turnutils_stunclient finished");
        String out = new String(client.getInputStream().readAllBytes());
        assertTrue(out.matches("(?s).*UDP reflexive addr: 127\\.0\\.0\\.1:[1-9][0-9]*.*"), out);
        InetSocketAddress responder = new InetSocketAddress("127.0.0.1", stunPort);
        try (DatagramSocket udp = new DatagramSocket()) {
            udp.setSoTimeout(2_000);
            byte[] tx = new byte[12];
            new SecureRandom().nextBytes(tx);
            // Junk of every size, a request without the magic cookie (RFC 3489), one cut short, an
            // indication: no answers. CHANGE-REQUEST (RFC 5780): a 420 naming it.
            for (int size : new int[] {0, 1, 19, 20, 200, 548, 2_000, 9_000}) {
                byte[] junk = new byte[size];
                new SecureRandom().nextBytes(junk);
                udp.send(new DatagramPacket(junk, size, responder));
            }
            java.nio.ByteBuffer classic = stunRequest(tx, 0, 0).putInt(4, 0x01020304);
            udp.send(new DatagramPacket(classic.array(), classic.limit(), responder));
            java.nio.ByteBuffer cut = stunRequest(tx, 0x8022, 0); // says 8 bytes of attributes, carries 4
            udp.send(new DatagramPacket(cut.array(), 24, responder));
            java.nio.ByteBuffer indication = stunRequest(tx, 0, 0).putShort(0, (short) 0x0011);
            udp.send(new DatagramPacket(indication.array(), indication.limit(), responder));
            java.nio.ByteBuffer change = stunRequest(tx, 0x0003, 6);
            udp.send(new DatagramPacket(change.array(), change.limit(), responder));
            DatagramPacket answer = new DatagramPacket(new byte[1500], 1500);
            udp.receive(answer); // the first and only answer is the 420
            java.nio.ByteBuffer a = java.nio.ByteBuffer.wrap(answer.getData(), 0, answer.getLength());
            assertEquals(0x0111, a.getShort(0) & 0xFFFF, "a Binding error");
            assertEquals(420, (a.get(26) & 7) * 100 + a.get(27), "420 Unknown Attribute");
            // A flood from one address: answered up to its rate (20 a second, a burst of one second's).
            long floodStarted = System.nanoTime();
            for (int i = 0; i < 300; i++) {
                java.nio.ByteBuffer req = stunRequest(tx, 0, 0);
                udp.send(new DatagramPacket(req.array(), req.limit(), responder));
            }
            int floodAnswers = 0;
            udp.setSoTimeout(500);
            try {
                for (;;) {
                    udp.receive(answer);
                    floodAnswers++;
                }
            } catch (java.net.SocketTimeoutException drained) {
                // no more answers
            }
            double seconds = (System.nanoTime() - floodStarted) / 1e9;
            String stats = r.exec("relay:stun").out();
            // Some of the 300 may be lost in the socket's buffer before the responder reads them.
            assertTrue(floodAnswers >= 1 && floodAnswers <= 20 + 20 * seconds + 1, floodAnswers + " answers in " + seconds + " s; " + stats);
            assertTrue(stunCount(stats, "rate_limited") >= 100, stats);
            assertTrue(stunCount(stats, "not_stun") >= 8 && stunCount(stats, "malformed") >= 1
                    && stunCount(stats, "not_a_binding_request") >= 1 && stunCount(stats, "refused_unknown_attributes") == 1, stats);
        }
        // The rate refills: a real client is answered again.
        Await.until(Duration.ofSeconds(10), "answered again", () -> {
            try {
                Process again = new ProcessBuilder("turnutils_stunclient", "-p", String.valueOf(stunPort), "127.0.0.1")
                        .redirectErrorStream(true).start();
                return again.waitFor(20, TimeUnit.SECONDS) && new String(again.getInputStream().readAllBytes()).contains("reflexive addr");
            } catch (Exception e) {
                return false;
            }
        });
    }

    /** A Binding request, with one 4-byte attribute when {@code attribute} is not 0. */
    private static java.nio.ByteBuffer stunRequest(byte[] tx, int attribute, int value) {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(attribute == 0 ? 20 : 28);
        b.putShort((short) 1).putShort((short) (attribute == 0 ? 0 : 8)).putInt(0x2112A442).put(tx);
        if (attribute != 0) {
            b.putShort((short) attribute).putShort((short) 4).putInt(value);
        }
        return b.flip();
    }

    private static long stunCount(String stats, String outcome) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile(" " + outcome + "=(\\d+)").matcher(stats);
        return m.find() ? Long.parseLong(m.group(1)) : -1;
    }

    /** Signs in with {@code line} on a fresh connection and returns how the relay closed it. */
    private static String refusal(int port, String line) throws Exception {
        try (RawQuic q = new RawQuic(port, "cloudbridge/1")) {
            q.openControl();
            q.send(line);
            return q.closeReason();
        }
    }

    private static String keyOf(RegisterResponse node, Daemon relay) {
        for (String row : relay.exec("relay:nodes").out().split("\n")) {
            if (row.startsWith(node.getNodeId())) {
                String[] cols = row.trim().split("\\s+");
                return cols[3];
            }
        }
        throw new AssertionError("no node " + node.getNodeId());
    }

    private static int threads(long pid) throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
            if (line.startsWith("Threads:")) {
                return Integer.parseInt(line.substring(8).trim());
            }
        }
        throw new AssertionError("no thread count for " + pid);
    }

    static byte[] randomKey() {
        byte[] k = new byte[32];
        new SecureRandom().nextBytes(k);
        return k;
    }
}
