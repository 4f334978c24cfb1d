package io.cloudbridge.itest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.api.transport.PacketSession;
import io.cloudbridge.api.transport.RelayBusyException;
import io.cloudbridge.api.transport.RelayEndpoint;
import io.cloudbridge.api.transport.SessionCredentials;
import io.cloudbridge.api.transport.TransportState;
import io.cloudbridge.control.v1.RegisterResponse;
import io.cloudbridge.transport.quic.internal.QuicTransport;
import io.cloudbridge.transport.quic.internal.QuicTransportConfig;
import io.grpc.ManagedChannel;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The QUIC transport's "come back later" against a real relay daemon: while the plugin that serves
 * {@code cloudbridge/1} is restarting, the relay's QUIC listener closes new connections with BUSY
 * (code 0x102, the wait in its phrase), so a node neither sets the transport aside nor ends its
 * session; once the restart window is over, a protocol nobody serves is an ordinary failure.
 */
class RelayQuicRestartTest {
    /** The relay's restart window: longer than the QUIC route's drain (3 s), after which its sessions dial again. */
    static final int ROUTE_RESTART_SECONDS = 10;

    @TempDir
    Path work;

    @Test
    void aRestartingPluginAsksNodesToComeBackAndTheirSessionsDo() throws Exception {
        int controlPort = RuntimeTestSupport.freeTcpPort();
        int quicPort = RuntimeTestSupport.freeUdpPort();
        Daemon relay = new Daemon(Files.createDirectories(work.resolve("relay")));
        relay.command = "relay";
        RuntimeTestSupport.writeOwnerOnly(relay.config, String.join("\n",
                "kernel:", "  features: [core, shell, relay, transport-quic]",
                "relay:", "  listenAddress: 127.0.0.1", "  controlPort: " + controlPort, "  jwksPort: 0",
                "listeners:", "  address: 127.0.0.1", "  tlsPort: " + RuntimeTestSupport.freeTcpPort(), "  quicPort: " + quicPort,
                "  stunPort: -1", "  routeRestartSeconds: " + ROUTE_RESTART_SECONDS, ""));
        QuicTransport transport = new QuicTransport(TenantFairnessTest.config(QuicTransportConfig.class));
        try (Daemon r = relay.start()) {
            Await.until(Duration.ofSeconds(30), "the relay's QUIC route", () -> r.logText().contains("relay QUIC protocol cloudbridge/1 served"));
            String key = r.exec("relay:key", "create", "--tenant", "acme", "--reusable").out().trim();
            byte[] k1 = RelayWebSocketTest.randomKey();
            byte[] k2 = RelayWebSocketTest.randomKey();
            ManagedChannel channel = ControlPlaneTest.channel(controlPort);
            RegisterResponse n1;
            RegisterResponse n2;
            try {
                n1 = ControlPlaneTest.register(channel, key, k1);
                n2 = ControlPlaneTest.register(channel, key, k2);
            } finally {
                channel.shutdownNow();
            }
            RelayEndpoint endpoint = new RelayEndpoint("test", URI.create("quic://127.0.0.1:" + quicPort),
                    Optional.of(r.exec("relay:fingerprint").out().trim()));
            RelayWebSocketTest.Inbox in1 = new RelayWebSocketTest.Inbox();
            PacketSession s1 = transport.open(endpoint, new SessionCredentials(NodeKey.of(k1), n1.getToken()::getJwt), in1)
                    .toCompletableFuture().get(20, TimeUnit.SECONDS);

            // The plugin goes: the session is told to move, then dials again and is asked to come back.
            assertEquals(0, r.exec("feature:uninstall", "transport-quic").exit());
            Await.until(Duration.ofSeconds(10), "node one's session lost", () -> s1.state() == TransportState.RECONNECTING);
            Throwable busy = failure(transport, endpoint, k2, n2);
            assertTrue(busy instanceof RelayBusyException b && b.retryAfter().equals(Duration.ofSeconds(1)), String.valueOf(busy));
            Await.until(Duration.ofSeconds(5), "node one's session asked to come back", () -> in1.states.toString().contains("for now"));

            // It comes back: so does the session, by itself, never having failed.
            assertEquals(0, r.exec("feature:install", "transport-quic").exit());
            Await.until(Duration.ofSeconds(15), "node one's session back by itself", () -> s1.state() == TransportState.CONNECTED);
            assertFalse(in1.states.toString().contains("FAILED"), in1.states.toString());

            // Gone for longer than the restart window: not served here, an ordinary failure.
            assertEquals(0, r.exec("feature:uninstall", "transport-quic").exit());
            java.util.concurrent.atomic.AtomicReference<Throwable> gone = new java.util.concurrent.atomic.AtomicReference<>();
            Await.until(Duration.ofSeconds(ROUTE_RESTART_SECONDS + 10), "an ordinary failure once the window is over", () -> {
                gone.set(failure(transport, endpoint, k2, n2));
                return !(gone.get() instanceof RelayBusyException);
            });
            assertTrue(gone.get() != null, "a session where nothing serves the protocol");
        } finally {
            transport.deactivate();
        }
    }

    /** Why a new session's first connection failed; null when it connected. */
    private static Throwable failure(QuicTransport transport, RelayEndpoint endpoint, byte[] key, RegisterResponse node) {
        try {
            transport.open(endpoint, new SessionCredentials(NodeKey.of(key), node.getToken()::getJwt), new RelayWebSocketTest.Inbox())
                    .toCompletableFuture().get(20, TimeUnit.SECONDS).close();
            return null;
        } catch (ExecutionException e) {
            return e.getCause();
        } catch (java.util.concurrent.TimeoutException | InterruptedException e) {
            throw new AssertionError("a session neither connected nor failed: " + e, e);
        }
    }
}
