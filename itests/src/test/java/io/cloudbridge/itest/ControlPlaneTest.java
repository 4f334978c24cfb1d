package io.cloudbridge.itest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.cloudbridge.control.v1.ControlServiceGrpc;
import io.cloudbridge.control.v1.NodeInfo;
import io.cloudbridge.control.v1.RegisterRequest;
import io.cloudbridge.control.v1.RegisterResponse;
import io.grpc.ManagedChannel;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A relay and nodes as separate runtimes (real daemons) talking gRPC over TLS on loopback:
 * registration with a pre-auth key, the map and its deltas, token renewal across expiry, removal,
 * and a relay killed with SIGKILL in the middle of registrations.
 */
class ControlPlaneTest {
    @TempDir
    Path work;

    /** The relay's database section: none here (the embedded H2 file); a PostgreSQL server in {@link ControlPlaneOnPostgresTest}. */
    String databaseSection(Path relayFolder) throws Exception {
        return "";
    }

    Daemon relay(int port) throws Exception {
        Path folder = Files.createDirectories(work.resolve("relay"));
        Daemon relay = new Daemon(folder);
        RuntimeTestSupport.writeOwnerOnly(relay.config, String.join("\n",
                "kernel:", "  features: [core, shell, relay]",
                "relay:", "  listenAddress: 127.0.0.1", "  controlPort: " + port, "  jwksPort: 0",
                // short-lived tokens, so that renewal across expiry happens within the test
                "  tokenLifetimeSeconds: 10",
                databaseSection(folder)));
        return relay;
    }

    private Daemon node(String name, int relayPort, String key) throws Exception {
        Path dir = Files.createDirectories(work.resolve(name));
        Path keyFile = dir.resolve("preauth.key");
        RuntimeTestSupport.writeOwnerOnly(keyFile, key + "\n");
        Daemon node = new Daemon(dir);
        RuntimeTestSupport.writeOwnerOnly(node.config, RuntimeTestSupport.nodeYaml(dir, name, relayPort, "  preAuthKeyFile: " + keyFile));
        return node;
    }

    @Test
    void nodesRegisterSeeEachOtherRenewTokensAndAreRemoved() throws Exception {
        int port = RuntimeTestSupport.freeTcpPort();
        try (Daemon relay = relay(port).start()) {
            Await.until(Duration.ofSeconds(20), "the relay listening", () -> relay.logText().contains("relay control service listening"));
            String fingerprint = relay.exec("relay:fingerprint").out().trim();
            assertTrue(fingerprint.matches("sha256:[0-9a-f]{64}"), fingerprint);
            assertTrue(relay.logText().contains("certificate fingerprint " + fingerprint), "the relay prints its fingerprint");
            String key = relay.exec("relay:key", "create", "--tenant", "acme", "--reusable").out().trim();
            assertTrue(key.startsWith("cbk_"), key);
            assertTrue(!relay.logText().contains(key.substring(17)), "the key's secret is never logged");

            try (Daemon a = node("alpha", port, key).start(); Daemon b = node("bravo", port, key).start()) {
                Await.until(Duration.ofSeconds(15), "both registered", () -> a.whoami("status").equals("registered")
                        && b.whoami("status").equals("registered"));
                assertEquals("acme", a.whoami("tenant"));
                String address = a.whoami("address");
                assertTrue(address.startsWith("100.64.") && address.contains("/18 fd"), address);
                Await.until(Duration.ofSeconds(5), "alpha sees bravo", () -> a.exec("cb:peers").out().contains("bravo"));
                assertTrue(a.whoami("relay").contains("pinned " + fingerprint), "trust on first use pinned the relay: " + a.whoami("relay"));

                // Token renewal across expiry: 10 s tokens, renewed at two thirds of their life.
                Await.until(Duration.ofSeconds(25), "alpha renewed its token twice",
                        () -> a.whoami("token").matches(".*; [2-9]\\d* renewals\\)"));
                assertEquals("registered", a.whoami("status"));

                // Removal on the relay: bravo's stream ends, alpha's map loses it, within a second or two.
                String bravoId = b.whoami("node");
                assertTrue(relay.exec("relay:node", "delete", bravoId).out().contains("removed"));
                Await.until(Duration.ofSeconds(3), "bravo told it was removed", () -> b.whoami("status").equals("removed by the relay"));
                Await.until(Duration.ofSeconds(3), "alpha no longer sees bravo", () -> !a.exec("cb:peers").out().contains("bravo"));
            }
        }
    }

    @Test
    void aRelayKilledMidRegistrationLosesAndDuplicatesNoAddress() throws Exception {
        int port = RuntimeTestSupport.freeTcpPort();
        Daemon relay = relay(port).start();
        Await.until(Duration.ofSeconds(20), "the relay listening", () -> relay.logText().contains("relay control service listening"));
        String key = relay.exec("relay:key", "create", "--tenant", "burst", "--reusable").out().trim();
        List<byte[]> keys = new ArrayList<>();
        SecureRandom random = new SecureRandom();
        for (int i = 0; i < 400; i++) {
            byte[] k = new byte[32];
            random.nextBytes(k);
            keys.add(k);
        }
        Map<Integer, String> firstAnswers = new ConcurrentHashMap<>();
        Map<Integer, String> firstTokens = new ConcurrentHashMap<>();
        ExecutorService pool = Executors.newFixedThreadPool(6);
        ManagedChannel channel = channel(port);
        try {
            for (int i = 0; i < keys.size(); i++) {
                int n = i;
                pool.execute(() -> {
                    try {
                        RegisterResponse r = register(channel, key, keys.get(n));
                        firstTokens.put(n, r.getToken().getJwt());
                        firstAnswers.put(n, r.getIpv4Address());
                    } catch (RuntimeException relayGone) {
                        // killed mid-way: this node registers again below
                    }
                });
            }
            Await.until(Duration.ofSeconds(20), "some registrations done", () -> firstAnswers.size() >= 20);
            ProcessHandle.of(relay.pid()).orElseThrow().destroyForcibly(); // SIGKILL, mid-burst
            pool.shutdown();
            assertTrue(pool.awaitTermination(60, TimeUnit.SECONDS));
            assertTrue(firstAnswers.size() < keys.size(), "the relay died before the burst was over: " + firstAnswers.size());
        } finally {
            channel.shutdownNow();
        }
        try (Daemon again = relay(port).start()) {
            // The same log file: the restarted relay's listener is the second one it reports.
            Await.until(Duration.ofSeconds(20), "the restarted relay listening",
                    () -> again.logText().split("relay control service listening", -1).length - 1 >= 2);
            ManagedChannel fresh = channel(port);
            try {
                Set<String> addresses = new HashSet<>();
                Map<Integer, String> after = new HashMap<>();
                int unanswered = 0;
                for (int i = 0; i < keys.size(); i++) {
                    // A node that heard its answer signs in with its token; one that did not tries its
                    // pre-auth key, which the relay refuses if the registration had gone through.
                    try {
                        RegisterResponse r = firstTokens.containsKey(i) ? registerWithToken(fresh, firstTokens.get(i), keys.get(i))
                                : register(fresh, key, keys.get(i));
                        after.put(i, r.getIpv4Address());
                        addresses.add(r.getIpv4Address());
                    } catch (io.grpc.StatusRuntimeException e) {
                        assertEquals(io.grpc.Status.Code.ALREADY_EXISTS, e.getStatus().getCode(), "node " + i);
                        assertTrue(!firstTokens.containsKey(i));
                        unanswered++;
                    }
                }
                assertEquals(keys.size() - unanswered, addresses.size(), "every node its own address");
                firstAnswers.forEach((n, a) -> assertEquals(a, after.get(n), "node " + n + " kept the address it was given"));
            } finally {
                fresh.shutdownNow();
            }
        }
    }

    /** A raw client of the relay: the test is not a node, and checks addresses, not the certificate. */
    static ManagedChannel channel(int port) throws Exception {
        return NettyChannelBuilder.forAddress("127.0.0.1", port)
                .sslContext(GrpcSslContexts.forClient().trustManager(InsecureTrustManagerFactory.INSTANCE).build()).build();
    }

    private static RegisterResponse registerWithToken(ManagedChannel channel, String jwt, byte[] nodeKey) {
        return ControlServiceGrpc.newBlockingStub(channel).withDeadlineAfter(20, TimeUnit.SECONDS).register(RegisterRequest.newBuilder()
                .setNodeToken(jwt).setNode(NodeInfo.newBuilder().setWireguardPublicKey(ByteString.copyFrom(nodeKey))
                        .setHostname("burst").setOs("linux/amd64")).build());
    }

    static RegisterResponse register(ManagedChannel channel, String key, byte[] nodeKey) {
        return ControlServiceGrpc.newBlockingStub(channel).withDeadlineAfter(20, TimeUnit.SECONDS).register(RegisterRequest.newBuilder()
                .setPreAuthKey(key).setNode(NodeInfo.newBuilder().setWireguardPublicKey(ByteString.copyFrom(nodeKey))
                        .setHostname("burst").setOs("linux/amd64")).build());
    }
}
