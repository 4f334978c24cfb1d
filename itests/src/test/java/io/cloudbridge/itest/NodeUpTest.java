package io.cloudbridge.itest;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bin/cloudbridge relay} and two {@code bin/cloudbridge up} nodes in userspace mode: they
 * sign in with a pre-auth key, take their addresses and peers from the relay, and ping each other
 * over WireGuard carried by the relay's WebSocket transport.
 */
class NodeUpTest {
    @TempDir
    Path work;

    @Test
    void twoNodesPingEachOtherThroughTheRelay() throws Exception {
        int controlPort = RuntimeTestSupport.freeTcpPort();
        int tlsPort = RuntimeTestSupport.freeTcpPort();
        Daemon relay = new Daemon(Files.createDirectories(work.resolve("relay")));
        relay.command = "relay";
        RuntimeTestSupport.writeOwnerOnly(relay.config, String.join("\n",
                "relay:", "  listenAddress: 127.0.0.1", "  controlPort: " + controlPort, "  jwksPort: 0",
                "listeners:", "  address: 127.0.0.1", "  tlsPort: " + tlsPort, ""));
        try (Daemon r = relay.start()) {
            Await.until(Duration.ofSeconds(20), "the relay's WebSocket route", () -> r.logText().contains("relay route /cloudbridge/v1/ws"));
            String key = r.exec("relay:key", "create", "--tenant", "acme", "--reusable").out().trim();
            try (Daemon a = node("alpha", controlPort, tlsPort, key); Daemon b = node("bravo", controlPort, tlsPort, key)) {
                Await.until(Duration.ofSeconds(20), "both registered",
                        () -> a.whoami("status").equals("registered") && b.whoami("status").equals("registered"));
                Await.until(Duration.ofSeconds(10), "both on the relay over WebSocket",
                        () -> a.exec("cb:paths").out().startsWith("relay path: websocket")
                                && b.exec("cb:paths").out().startsWith("relay path: websocket"));
                String bravo = b.whoami("address").split("/")[0];
                Await.until(Duration.ofSeconds(10), "alpha has bravo as a peer", () -> a.exec("wg:show").out().contains(
                        bravo + "/32"));
                Daemon.Result ping = a.exec("cb:ping", bravo);
                assertTrue(ping.exit() == 0 && ping.out().contains("reply from " + bravo), ping.out() + ping.err());
                assertTrue(ping.out().contains("path=relay"), ping.out());
                String alpha = a.whoami("address").split("/")[0];
                Daemon.Result back = b.exec("cb:ping", alpha);
                assertTrue(back.exit() == 0 && back.out().contains("reply from " + alpha), back.out() + back.err());
                assertTrue(r.exec("relay:sessions").out().contains("acme"), r.exec("relay:sessions").out());
            }
        }
    }

    private Daemon node(String name, int controlPort, int tlsPort, String key) throws Exception {
        Path dir = Files.createDirectories(work.resolve(name));
        Path keyFile = dir.resolve("preauth.key");
        RuntimeTestSupport.writeOwnerOnly(keyFile, key + "\n");
        Daemon node = new Daemon(dir);
        node.command = "up";
        RuntimeTestSupport.writeOwnerOnly(node.config, RuntimeTestSupport.nodeYaml(dir, name, controlPort,
                "  transports: [wss://127.0.0.1:" + tlsPort + "]"));
        return node.start("--pre-auth-key-file", keyFile.toString(), "--userspace");
    }
}
