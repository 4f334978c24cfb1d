package io.cloudbridge.itest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.testing.Requirements;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A node whose only way out is an HTTP proxy (a real tinyproxy, from the distribution's packages):
 * with HTTPS_PROXY set, its WebSocket session to the relay goes through the proxy's CONNECT
 * tunnel, and a peer whose NO_PROXY names the relay goes straight; they ping each other.
 */
class WebSocketProxyTest {
    @TempDir
    Path work;

    @Test
    void aNodeReachesTheRelayThroughAnHttpProxy() throws Exception {
        int controlPort = RuntimeTestSupport.freeTcpPort();
        int tlsPort = RuntimeTestSupport.freeTcpPort();
        int proxyPort = RuntimeTestSupport.freeTcpPort();
        Path proxyConfig = work.resolve("tinyproxy.conf");
        Files.writeString(proxyConfig, String.join("\n", "Port " + proxyPort, "Listen 127.0.0.1", "Timeout 60", "Allow 127.0.0.1",
                "ConnectPort " + tlsPort, "MaxClients 20", "LogLevel Connect", ""));
        Path proxyLog = work.resolve("tinyproxy.log");
        Path tinyproxy = Requirements.requireTool("tinyproxy", "apt-get install tinyproxy");
        Process proxy = new ProcessBuilder(List.of(tinyproxy.toString(), "-d", "-c", proxyConfig.toString())).redirectErrorStream(true)
                .redirectOutput(proxyLog.toFile()).start();
        Daemon relay = new Daemon(Files.createDirectories(work.resolve("relay")));
        relay.command = "relay";
        RuntimeTestSupport.writeOwnerOnly(relay.config, String.join("\n",
                "relay:", "  listenAddress: 127.0.0.1", "  controlPort: " + controlPort, "  jwksPort: 0",
                "listeners:", "  address: 127.0.0.1", "  tlsPort: " + tlsPort, "  quicPort: -1", ""));
        try (Daemon r = relay.start()) {
            Await.until(Duration.ofSeconds(20), "the relay's route", () -> r.logText().contains("relay route /cloudbridge/v1/ws"));
            String key = r.exec("relay:key", "create", "--tenant", "corp", "--reusable").out().trim();
            try (Daemon a = node("alpha", controlPort, tlsPort, key, "http://127.0.0.1:" + proxyPort, "");
                 Daemon b = node("bravo", controlPort, tlsPort, key, "http://127.0.0.1:" + proxyPort, "localhost,127.0.0.1")) {
                Await.until(Duration.ofSeconds(20), "both on the relay over WebSocket",
                        () -> a.exec("cb:paths").out().startsWith("relay path: websocket")
                                && b.exec("cb:paths").out().startsWith("relay path: websocket"));
                assertTrue(a.logText().contains("over WebSocket through the proxy 127.0.0.1:" + proxyPort), a.logText());
                String bravo = b.whoami("address").split("/")[0];
                Daemon.awaitEachOthersPeer(a, b, Duration.ofSeconds(10));
                Daemon.Result ping = a.exec("cb:ping", bravo);
                assertTrue(ping.exit() == 0 && ping.out().contains("reply from " + bravo), ping.out() + ping.err());
                // One tunnel through the proxy: alpha's. Bravo's NO_PROXY names the relay.
                String log = Files.readString(proxyLog);
                assertEquals(1, log.lines().filter(l -> l.contains("CONNECT 127.0.0.1:" + tlsPort)).count(), log);
            }
        } finally {
            proxy.destroy();
            proxy.waitFor();
        }
    }

    private Daemon node(String name, int controlPort, int tlsPort, String key, String httpsProxy, String noProxy) throws Exception {
        Path dir = Files.createDirectories(work.resolve(name));
        Path keyFile = dir.resolve("preauth.key");
        RuntimeTestSupport.writeOwnerOnly(keyFile, key + "\n");
        Daemon node = new Daemon(dir);
        node.command = "up";
        node.env.put("HTTPS_PROXY", httpsProxy);
        node.env.put("NO_PROXY", noProxy);
        RuntimeTestSupport.writeOwnerOnly(node.config, RuntimeTestSupport.nodeYaml(dir, name, controlPort,
                "  transports: [wss://127.0.0.1:" + tlsPort + "]"));
        return node.start("--pre-auth-key-file", keyFile.toString(), "--userspace");
    }
}
