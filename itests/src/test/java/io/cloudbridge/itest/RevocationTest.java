package io.cloudbridge.itest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.api.transport.PacketSession;
import io.cloudbridge.api.transport.RelayEndpoint;
import io.cloudbridge.api.transport.SessionCredentials;
import io.cloudbridge.api.transport.TransportState;
import io.cloudbridge.control.v1.RegisterResponse;
import io.cloudbridge.transport.websocket.internal.WebSocketTransport;
import io.grpc.ManagedChannel;
import java.net.DatagramSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Revocation against a real relay daemon (issue 23 item 2): removing a node ends every session its
 * token opened within a second, on every listener (a WebSocket port, a CONNECT-IP session, a
 * CONNECT-UDP tunnel); a session whose token expires without renewal ends at its expiry; a port
 * replaced by a newer session of the same node forwards nothing from then on.
 */
class RevocationTest {
    /** The shortest node-token life the relay takes: long enough for the removal part, short enough to wait out. */
    static final int TOKEN_SECONDS = 10;

    @TempDir
    Path work;

    @Test
    void aRemovedOrLapsedNodeLosesEverySessionAndAReplacedPortStopsForwarding() throws Exception {
        int controlPort = RuntimeTestSupport.freeTcpPort();
        int tlsPort = RuntimeTestSupport.freeTcpPort();
        int quicPort = RuntimeTestSupport.freeUdpPort();
        Daemon relay = new Daemon(Files.createDirectories(work.resolve("relay")));
        relay.command = "relay";
        RuntimeTestSupport.writeOwnerOnly(relay.config, String.join("\n",
                "kernel:", "  features: [masque, transport-websocket]",
                "relay:", "  listenAddress: 127.0.0.1", "  controlPort: " + controlPort, "  jwksPort: 0",
                "  tokenLifetimeSeconds: " + TOKEN_SECONDS,
                "listeners:", "  address: 127.0.0.1", "  tlsPort: " + tlsPort, "  quicPort: " + quicPort, "  stunPort: -1",
                "masque:", "  allow: [acme=127.0.0.1/32]", ""));
        WebSocketTransport transport = new WebSocketTransport(RelayWebSocketTest.config());
        try (Daemon r = relay.start(); DatagramSocket target = new DatagramSocket(0, java.net.InetAddress.getLoopbackAddress())) {
            Await.until(Duration.ofSeconds(30), "the relay's routes; log:\n" + r.logText(),
                    () -> r.logText().contains("relay route /cloudbridge/v1/ws") && r.logText().contains("MASQUE proxy on the relay's QUIC listener"));
            RelayEndpoint endpoint = new RelayEndpoint("test", URI.create("wss://127.0.0.1:" + tlsPort),
                    Optional.of(r.exec("relay:fingerprint").out().trim()));
            String acmeKey = r.exec("relay:key", "create", "--tenant", "acme", "--reusable").out().trim();
            byte[] kA = RelayWebSocketTest.randomKey();
            byte[] kB = RelayWebSocketTest.randomKey();
            byte[] kC = RelayWebSocketTest.randomKey();
            RegisterResponse a;
            RegisterResponse b;
            RegisterResponse c;
            ManagedChannel channel = ControlPlaneTest.channel(controlPort);
            try {
                b = ControlPlaneTest.register(channel, acmeKey, kB);
                c = ControlPlaneTest.register(channel, acmeKey, kC);
                a = ControlPlaneTest.register(channel, acmeKey, kA);
            } finally {
                channel.shutdownNow();
            }
            String tokenA = a.getToken().getJwt();

            try (RawH3 h3 = new RawH3(quicPort)) {
                // Node A holds a session on every listener: a WebSocket port, CONNECT-IP, CONNECT-UDP.
                RelayWebSocketTest.Inbox inA = new RelayWebSocketTest.Inbox();
                RelayWebSocketTest.Inbox inB = new RelayWebSocketTest.Inbox();
                PacketSession wsA = transport.open(endpoint, new SessionCredentials(NodeKey.of(kA), () -> tokenA), inA)
                        .toCompletableFuture().get(20, TimeUnit.SECONDS);
                PacketSession wsB = transport.open(endpoint, new SessionCredentials(NodeKey.of(kB), b.getToken()::getJwt), inB)
                        .toCompletableFuture().get(20, TimeUnit.SECONDS);
                RawH3.Request ipA = h3.connect("connect-ip", String.format(ConnectIpTest.TEMPLATE, "*", "*"), tokenA, true);
                assertEquals("200", ipA.status.get(10, TimeUnit.SECONDS), "relay log:\n" + r.logText());
                RawH3.Request udpA = h3.connect("connect-udp", "/.well-known/masque/udp/127.0.0.1/" + target.getLocalPort() + "/",
                        tokenA, true);
                assertEquals("200", udpA.status.get(10, TimeUnit.SECONDS), "relay log:\n" + r.logText());
                assertTrue(wsA.send(NodeKey.of(kB), RelayWebSocketTest.packet("a-to-b")));
                assertEquals(NodeKey.of(kA).toBase64() + " a-to-b", inB.packets.poll(10, TimeUnit.SECONDS));

                // A newer session of node A replaces its port: the older one forwards nothing from now on.
                RelayWebSocketTest.Inbox inA2 = new RelayWebSocketTest.Inbox();
                PacketSession wsA2 = transport.open(endpoint, new SessionCredentials(NodeKey.of(kA), () -> tokenA), inA2)
                        .toCompletableFuture().get(20, TimeUnit.SECONDS);
                Await.until(Duration.ofSeconds(5), "delivery on the newer session", () -> {
                    wsB.send(NodeKey.of(kA), RelayWebSocketTest.packet("probe"));
                    return inA2.packets.poll() != null;
                });
                wsA.send(NodeKey.of(kB), RelayWebSocketTest.packet("from-replaced"));
                assertTrue(wsA2.send(NodeKey.of(kB), RelayWebSocketTest.packet("from-newer")));
                assertEquals(NodeKey.of(kA).toBase64() + " from-newer", inB.packets.poll(10, TimeUnit.SECONDS),
                        "the replaced session's packet was forwarded: " + inB.packets);
                assertNull(inB.packets.poll(300, TimeUnit.MILLISECONDS));

                // Removing node A ends all of them within a second.
                assertTrue(r.exec("relay:node", "delete", a.getNodeId()).out().contains("removed"));
                Duration took = Await.until(Duration.ofSeconds(1), "node A's sessions ended", () -> wsA2.state() == TransportState.FAILED
                        && ipA.ended.isDone() && udpA.ended.isDone());
                System.out.println("every session of a removed node ended after " + took.toMillis() + " ms");
                Await.until(Duration.ofSeconds(5), "the relay says why", () -> r.logText().contains("of node " + a.getNodeId())
                        && r.logText().matches("(?s).*session\\(s\\) of node " + a.getNodeId() + " key \\S+ ended: node removed.*"));
                assertTrue(inA2.states.toString().contains("node removed"), inA2.states.toString());
                assertEquals("401", h3.connect("connect-ip", String.format(ConnectIpTest.TEMPLATE, "*", "*"), tokenA, true)
                        .status.get(10, TimeUnit.SECONDS), "and its token opens nothing new");
                assertTrue(r.exec("masque:tunnels").out().contains("0 CONNECT-IP sessions"), r.exec("masque:tunnels").out());

                // Node C's CONNECT-IP session, its token never renewed, ends at the token's expiry.
                Instant expires = Instant.ofEpochSecond(c.getToken().getExpiresAtEpochSeconds());
                assertTrue(Instant.now().isBefore(expires.minusSeconds(2)), "the test reached node C's part in time");
                RawH3.Request ipC = h3.connect("connect-ip", String.format(ConnectIpTest.TEMPLATE, "*", "*"), c.getToken().getJwt(), true);
                assertEquals("200", ipC.status.get(10, TimeUnit.SECONDS));
                Await.until(Duration.between(Instant.now(), expires).plusSeconds(1), "node C's session ended at its token's expiry",
                        () -> ipC.ended.isDone());
                assertTrue(!Instant.now().isBefore(expires), "not before " + expires);
                assertTrue(r.logText().matches("(?s).*session\\(s\\) of node " + c.getNodeId() + " key \\S+ ended: token expired.*"));
            }
        }
    }

}
