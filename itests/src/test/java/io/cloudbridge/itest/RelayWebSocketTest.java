package io.cloudbridge.itest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.api.transport.PacketReceiver;
import io.cloudbridge.api.transport.PacketSession;
import io.cloudbridge.api.transport.RelayBusyException;
import io.cloudbridge.api.transport.RelayEndpoint;
import io.cloudbridge.api.transport.SessionCredentials;
import io.cloudbridge.api.transport.TransportState;
import io.cloudbridge.control.v1.RegisterResponse;
import io.cloudbridge.transport.websocket.internal.WebSocketTransport;
import io.cloudbridge.transport.websocket.internal.WebSocketTransportConfig;
import io.grpc.ManagedChannel;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.annotation.Annotation;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The relay's data plane over WebSocket against a real relay daemon: nodes registered over gRPC
 * with real tokens open sessions with the node side of the transport plugin, and packets are
 * forwarded by key within a tenant only. Bad input on the relay's TLS listener; removal of a node
 * and of the plugin.
 */
class RelayWebSocketTest {
    /** How long a path whose plugin went away is 503 before it is 404: short, for the test's sake. */
    static final int ROUTE_RESTART_SECONDS = 3;
    /** How long the node gives a silent relay: short, for the test's sake (15 s by default). */
    static final long DEAD_AFTER_MILLIS = 1_000;

    @TempDir
    Path work;

    /** What a node's session received. */
    static final class Inbox implements PacketReceiver {
        final LinkedBlockingQueue<String> packets = new LinkedBlockingQueue<>();
        final LinkedBlockingQueue<String> states = new LinkedBlockingQueue<>();

        @Override
        public void onPacket(NodeKey source, ByteBuffer packet) {
            byte[] b = new byte[packet.remaining()];
            packet.get(b);
            packets.add(source.toBase64() + " " + new String(b, 4, b.length - 4, StandardCharsets.US_ASCII).trim());
        }

        @Override
        public void onStateChanged(PacketSession session, TransportState state, String reason) {
            states.add(state + " " + reason);
        }
    }

    /** A WireGuard transport message (type 4) carrying a readable mark, padded to 64 bytes. */
    static ByteBuffer packet(String mark) {
        ByteBuffer b = ByteBuffer.allocate(64);
        b.put((byte) 4).put((byte) 0).put((byte) 0).put((byte) 0).put(mark.getBytes(StandardCharsets.US_ASCII));
        while (b.hasRemaining()) {
            b.put((byte) ' ');
        }
        return b.flip();
    }

    static byte[] randomKey() {
        byte[] k = new byte[32];
        new SecureRandom().nextBytes(k);
        return k;
    }

    @Test
    void packetsCrossTheRelayWithinATenantOnlyAndBadInputIsRefused() throws Exception {
        int controlPort = RuntimeTestSupport.freeTcpPort();
        int tlsPort = RuntimeTestSupport.freeTcpPort();
        Daemon relay = new Daemon(Files.createDirectories(work.resolve("relay")));
        RuntimeTestSupport.writeOwnerOnly(relay.config, String.join("\n",
                "kernel:", "  features: [core, shell, relay, transport-websocket]",
                "relay:", "  listenAddress: 127.0.0.1", "  controlPort: " + controlPort, "  jwksPort: 0",
                "listeners:", "  address: 127.0.0.1", "  tlsPort: " + tlsPort, "  routeRestartSeconds: " + ROUTE_RESTART_SECONDS, ""));
        WebSocketTransport transport = new WebSocketTransport(config());
        try (Daemon r = relay.start()) {
            Await.until(Duration.ofSeconds(20), "the relay's route", () -> r.logText().contains("relay route /cloudbridge/v1/ws"));
            String fingerprint = r.exec("relay:fingerprint").out().trim();
            assertTrue(r.logText().contains("relay TLS listener on /127.0.0.1:" + tlsPort + " (TLS 1.3, certificate fingerprint "
                    + fingerprint + ")"), "one certificate for control plane and data plane");
            String acmeKey = r.exec("relay:key", "create", "--tenant", "acme", "--reusable").out().trim();
            String otherKey = r.exec("relay:key", "create", "--tenant", "other", "--reusable").out().trim();
            byte[] k1 = randomKey();
            byte[] k2 = randomKey();
            byte[] k3 = randomKey();
            byte[] k4 = randomKey();
            RegisterResponse n1;
            RegisterResponse n4; // for the raw WebSocket clients: a session of node one's would replace node one's own
            RegisterResponse n2;
            RegisterResponse n3;
            ManagedChannel channel = ControlPlaneTest.channel(controlPort);
            try {
                n1 = ControlPlaneTest.register(channel, acmeKey, k1);
                n2 = ControlPlaneTest.register(channel, acmeKey, k2);
                n3 = ControlPlaneTest.register(channel, otherKey, k3);
                n4 = ControlPlaneTest.register(channel, acmeKey, k4);
            } finally {
                channel.shutdownNow();
            }
            RelayEndpoint endpoint = new RelayEndpoint("test", URI.create("wss://127.0.0.1:" + tlsPort), Optional.of(fingerprint));
            Inbox in1 = new Inbox();
            Inbox in2 = new Inbox();
            Inbox in3 = new Inbox();
            PacketSession s1 = open(transport, endpoint, k1, n1, in1);
            PacketSession s2 = open(transport, endpoint, k2, n2, in2);
            PacketSession s3 = open(transport, endpoint, k3, n3, in3);

            // Within the tenant, both ways, the source named by its key.
            assertTrue(s1.send(NodeKey.of(k2), packet("one-to-two")));
            assertEquals(NodeKey.of(k1).toBase64() + " one-to-two", in2.packets.poll(10, TimeUnit.SECONDS));
            assertTrue(s2.send(NodeKey.of(k1), packet("two-to-one")));
            assertEquals(NodeKey.of(k2).toBase64() + " two-to-one", in1.packets.poll(10, TimeUnit.SECONDS));
            // Across tenants: nothing, in either direction (the relay drops and counts it).
            s1.send(NodeKey.of(k3), packet("one-to-three"));
            s3.send(NodeKey.of(k1), packet("three-to-one"));
            s1.send(NodeKey.of(k2), packet("after"));
            assertEquals(NodeKey.of(k1).toBase64() + " after", in2.packets.poll(10, TimeUnit.SECONDS));
            assertNull(in3.packets.poll(200, TimeUnit.MILLISECONDS));
            assertNull(in1.packets.poll(10, TimeUnit.MILLISECONDS));

            // A wrong pin: the node refuses the relay.
            CompletionStage<PacketSession> pinned = transport.open(new RelayEndpoint("test", URI.create("wss://127.0.0.1:" + tlsPort),
                    Optional.of("sha256:" + "0".repeat(64))), new SessionCredentials(NodeKey.of(k1), n1.getToken()::getJwt), new Inbox());
            assertTrue(failure(pinned).contains("pinned"), failure(pinned));

            // Bad input on the relay's TLS listener: each gets its status, and the relay goes on.
            assertTrue(http(tlsPort, "GET /cloudbridge/v1/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").startsWith("HTTP/1.1 401"));
            assertTrue(http(tlsPort, "GET /cloudbridge/v1/ws HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer not.a.token\r\n"
                    + "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    + "Sec-WebSocket-Version: 13\r\n\r\n").startsWith("HTTP/1.1 401"));
            assertTrue(http(tlsPort, "GET /nothing-here HTTP/1.1\r\nHost: x\r\n\r\n").startsWith("HTTP/1.1 404"));
            assertTrue(http(tlsPort, "\u0001\u0002garbage\r\n\r\n").startsWith("HTTP/1.1 400"));
            assertTrue(http(tlsPort, "GET /cloudbridge/v1/ws HTTP/1.1\r\nHost: x\r\nX-Big: " + "a".repeat(20_000) + "\r\n\r\n")
                    .startsWith("HTTP/1.1 431"));
            assertTrue(http(tlsPort, "GET /cloudbridge/v1/ws HTTP/1.1\r\nHost: x\r\n").isEmpty(), "a truncated request is dropped");
            // Frames the transport does not speak: a text frame, a frame over the size limit, one too short.
            assertTrue(webSocketClosed(tlsPort, n4.getToken().getJwt(), ws -> ws.sendText("hello", true)).contains("1003"));
            // Over the limit: the relay answers 1009 and closes; when the close crosses the rest of the
            // client's 70 KB still in flight, the client may see the reset before the close frame.
            String oversized = webSocketClosed(tlsPort, n4.getToken().getJwt(), ws -> ws.sendBinary(ByteBuffer.allocate(70_000), true));
            assertTrue(oversized.contains("1009") || oversized.startsWith("error"), oversized);
            s1.send(NodeKey.of(k2), packet("still-serving"));
            assertEquals(NodeKey.of(k1).toBase64() + " still-serving", in2.packets.poll(10, TimeUnit.SECONDS));
            assertTrue(r.exec("relay:sessions").out().contains("websocket"), r.exec("relay:sessions").out());

            // Removing a node ends its session within a second, for good.
            String removedAt = String.valueOf(System.nanoTime());
            assertTrue(r.exec("relay:node", "delete", n2.getNodeId()).out().contains("removed"));
            Duration took = Await.until(Duration.ofSeconds(1), "node two's session ended",
                    () -> s2.state() == TransportState.FAILED);
            assertTrue(in2.states.toString().contains("node removed"), in2.states.toString());
            System.out.println("session of a removed node ended after " + took.toMillis() + " ms (" + removedAt + ")");

            // Removing the plugin removes its route, not the listener. For routeRestartSeconds the path
            // is 503 with Retry-After (the plugin may be restarting): sessions keep dialling, and are
            // back by themselves when the plugin is. After that it is 404, and they end for good.
            assertTrue(r.exec("feature:uninstall", "transport-websocket").exit() == 0);
            Await.until(Duration.ofSeconds(5), "node one's session lost", () -> s1.state() == TransportState.RECONNECTING);
            String restarting = http(tlsPort, "GET /cloudbridge/v1/ws HTTP/1.1\r\nHost: x\r\n\r\n");
            assertTrue(restarting.startsWith("HTTP/1.1 503") && restarting.contains("retry-after: 1"), restarting);
            // A session opened meanwhile fails saying when to come back: the node waits that long,
            // without counting it against the transport.
            CompletionStage<PacketSession> meanwhile = transport.open(endpoint,
                    new SessionCredentials(NodeKey.of(k4), n4.getToken()::getJwt), new Inbox());
            Throwable busy = cause(meanwhile);
            assertTrue(busy instanceof RelayBusyException b && b.retryAfter().equals(Duration.ofSeconds(1)), String.valueOf(busy));
            assertTrue(r.exec("feature:install", "transport-websocket").exit() == 0);
            Await.until(Duration.ofSeconds(10), "node one's session back by itself", () -> s1.state() == TransportState.CONNECTED);

            // Refreshing the control plane takes the route and the listener down with it (their
            // components need it); the listener is back before the route, and a node that dials in
            // between is told to come back, not refused: its session returns by itself.
            in1.states.clear();
            long refreshed = System.nanoTime();
            assertEquals(0, r.exec("refresh", "io.cloudbridge.grpc").exit());
            Await.until(Duration.ofSeconds(10), "the refresh reached node one's session", () -> !in1.states.isEmpty());
            Await.until(Duration.ofSeconds(15), "node one's session back after the control plane's refresh",
                    () -> s1.state() == TransportState.CONNECTED);
            System.out.println("session back " + (System.nanoTime() - refreshed) / 1_000_000 + " ms after the control plane's refresh; "
                    + in1.states);
            assertTrue(!in1.states.toString().contains("FAILED") && s1.send(NodeKey.of(k2), packet("x")), in1.states.toString());
            // The relay closed the connection as its listener stopped: the node did not have to find out
            // from its pings that nobody served it any more (which a chaos run once caught).
            assertTrue(!in1.states.toString().contains("has not answered"), in1.states.toString());
            assertTrue(s1.send(NodeKey.of(k3), packet("nobody")));
            assertTrue(r.exec("feature:uninstall", "transport-websocket").exit() == 0);
            Await.until(Duration.ofSeconds(ROUTE_RESTART_SECONDS + 10), "node one's session ended once the path is 404",
                    () -> s1.state() == TransportState.FAILED);
            assertTrue(http(tlsPort, "GET /cloudbridge/v1/ws HTTP/1.1\r\nHost: x\r\n\r\n").startsWith("HTTP/1.1 404"));
            assertTrue(r.exec("feature:install", "transport-websocket").exit() == 0);
            Await.until(Duration.ofSeconds(10), "the route back", () -> {
                try {
                    return !http(tlsPort, "GET /cloudbridge/v1/ws HTTP/1.1\r\nHost: x\r\n\r\n").startsWith("HTTP/1.1 404");
                } catch (Exception e) {
                    return false;
                }
            });
            Inbox again = new Inbox();
            PacketSession back = open(transport, endpoint, k1, n1, again);
            back.send(NodeKey.of(k3), packet("nobody"));
            assertEquals(TransportState.CONNECTED, back.state());

            // A relay that stops answering while its connections stay open (frozen here with SIGSTOP;
            // a relay whose event loop is stuck, or a NAT that forgot the connection, looks the same
            // to the node): TCP reports nothing for minutes, so the node's pings decide. The session
            // is taken for gone after websocket.deadAfterMillis, and is back once the relay answers.
            long frozenAt = System.nanoTime();
            signal("STOP", r.pid());
            try {
                Await.until(Duration.ofSeconds(5), "the frozen relay taken for gone",
                        () -> again.states.toString().contains("the relay has not answered for"));
            } finally {
                signal("CONT", r.pid());
            }
            long noticedMillis = (System.nanoTime() - frozenAt) / 1_000_000;
            assertTrue(noticedMillis >= DEAD_AFTER_MILLIS, "taken for gone after " + noticedMillis + " ms, before its time");
            Await.until(Duration.ofSeconds(15), "the session back once the relay answers", () -> back.state() == TransportState.CONNECTED
                    && again.states.toString().contains("RECONNECTING") && back.send(NodeKey.of(k3), packet("nobody")));
            System.out.println("a frozen relay was taken for gone after " + noticedMillis + " ms; " + again.states);
        } finally {
            transport.deactivate();
        }
    }

    private static void signal(String name, long pid) throws Exception {
        Process kill = new ProcessBuilder("kill", "-" + name, Long.toString(pid)).inheritIO().start();
        assertEquals(0, kill.waitFor(), "kill -" + name + " " + pid);
    }

    private static PacketSession open(WebSocketTransport transport, RelayEndpoint endpoint, byte[] key, RegisterResponse node,
            Inbox inbox) throws Exception {
        return transport.open(endpoint, new SessionCredentials(NodeKey.of(key), node.getToken()::getJwt), inbox)
                .toCompletableFuture().get(20, TimeUnit.SECONDS);
    }

    private static Throwable cause(CompletionStage<PacketSession> stage) {
        try {
            stage.toCompletableFuture().get(20, TimeUnit.SECONDS);
            return null;
        } catch (java.util.concurrent.ExecutionException e) {
            return e.getCause();
        } catch (Exception e) {
            return e;
        }
    }

    private static String failure(CompletionStage<PacketSession> stage) {
        try {
            stage.toCompletableFuture().get(20, TimeUnit.SECONDS);
            return "opened";
        } catch (Exception e) {
            return String.valueOf(e.getCause() == null ? e : e.getCause().getMessage());
        }
    }

    /** Sends raw bytes over TLS and returns what comes back until the relay closes (empty when nothing). */
    private static String http(int port, String request) throws Exception {
        try (SSLSocket socket = (SSLSocket) trustAll().getSocketFactory().createSocket("127.0.0.1", port)) {
            socket.setSoTimeout(15_000);
            OutputStream out = socket.getOutputStream();
            out.write(request.getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            if (!request.endsWith("\r\n\r\n")) {
                socket.shutdownOutput(); // truncated: the relay waits for more, then sees the end
            }
            InputStream in = socket.getInputStream();
            try {
                return new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
            } catch (java.net.SocketException reset) {
                return "";
            }
        }
    }

    /** Opens a WebSocket with the JDK's client, does {@code action}, and returns how the relay closed it. */
    private static String webSocketClosed(int port, String token, java.util.function.Consumer<WebSocket> action) throws Exception {
        CompletableFuture<String> closed = new CompletableFuture<>();
        HttpClient client = HttpClient.newBuilder().sslContext(trustAll()).build();
        WebSocket ws = client.newWebSocketBuilder().header("Authorization", "Bearer " + token).subprotocols("cloudbridge-relay.v1")
                .buildAsync(URI.create("wss://127.0.0.1:" + port + "/cloudbridge/v1/ws"), new WebSocket.Listener() {
                    @Override
                    public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
                        closed.complete(statusCode + " " + reason);
                        return null;
                    }

                    @Override
                    public void onError(WebSocket webSocket, Throwable error) {
                        closed.complete("error " + error);
                    }
                }).get(10, TimeUnit.SECONDS);
        action.accept(ws);
        return closed.get(10, TimeUnit.SECONDS);
    }

    static SSLContext trustAll() throws Exception {
        SSLContext tls = SSLContext.getInstance("TLSv1.3");
        tls.init(null, new TrustManager[] {new X509TrustManager() {
            public void checkClientTrusted(X509Certificate[] chain, String authType) {
            }

            public void checkServerTrusted(X509Certificate[] chain, String authType) {
            }

            public X509Certificate[] getAcceptedIssuers() {
                return new X509Certificate[0];
            }
        }}, null);
        return tls;
    }

    /** The WebSocket plugin's node side with quick reconnects (100 ms to 1 s): also RevocationTest's. */
    static WebSocketTransportConfig config() {
        return new WebSocketTransportConfig() {
            @Override
            public Class<? extends Annotation> annotationType() {
                return WebSocketTransportConfig.class;
            }

            public int priority() {
                return 20;
            }

            public long minBackoffMillis() {
                return 100;
            }

            public long maxBackoffMillis() {
                return 1000;
            }

            @Override
            public long pingMillis() {
                return 200;
            }

            @Override
            public long deadAfterMillis() {
                return DEAD_AFTER_MILLIS;
            }
        };
    }
}
