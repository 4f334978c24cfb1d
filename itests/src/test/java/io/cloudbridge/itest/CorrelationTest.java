package io.cloudbridge.itest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One id per flow across daemons, so that one grep finds it end to end: a node's registration has
 * the same {@code correlationId} in its lines and the relay's (gRPC metadata); a hole-punching
 * attempt the same in both nodes' lines and the relay's that forwarded its offers (the signal
 * message's field); a relay session over QUIC or WebSocket the same in the node's line that opened
 * it and the relay's that attached it (the AUTH line of QUIC protocol version 2, the upgrade
 * request's header); an admin command the same in each of its lines, whichever thread makes them.
 */
class CorrelationTest {
    @TempDir
    Path work;

    @Test
    void aFlowKeepsOneIdOnTheNodesAndTheRelay() throws Exception {
        int controlPort = RuntimeTestSupport.freeTcpPort();
        int tlsPort = RuntimeTestSupport.freeTcpPort();
        int quicPort = RuntimeTestSupport.freeUdpPort();
        int stunPort = RuntimeTestSupport.freeUdpPort();
        Daemon relay = new Daemon(Files.createDirectories(work.resolve("relay")));
        relay.command = "relay";
        RuntimeTestSupport.writeOwnerOnly(relay.config, String.join("\n",
                // The relay says nothing of a signal at info: its forwarding line is at debug.
                "logging:", "  loggers: [\"io.cloudbridge.control.relay.internal.SignalRelay=debug\"]",
                "relay:", "  listenAddress: 127.0.0.1", "  controlPort: " + controlPort, "  jwksPort: 0",
                "listeners:", "  address: 127.0.0.1", "  tlsPort: " + tlsPort, "  quicPort: " + quicPort, "  stunPort: " + stunPort, ""));
        try (Daemon r = relay.start()) {
            Await.until(Duration.ofSeconds(20), "the relay's control plane", () -> r.logText().contains("relay control service listening"));
            String key = r.exec("relay:key", "create", "--tenant", "flows", "--reusable").out().trim();
            assertTrue(key.startsWith("cbk_"), key);
            try (Daemon a = node("alpha", controlPort, quicPort, tlsPort, stunPort, key);
                 Daemon b = node("bravo", controlPort, quicPort, tlsPort, stunPort, key)) {
                Await.until(Duration.ofSeconds(20), "both registered",
                        () -> a.whoami("status").equals("registered") && b.whoami("status").equals("registered"));

                // A registration: the node's line and the relay's, one id.
                for (Daemon n : List.of(a, b)) {
                    String line = line(n.logText(), "registered with the relay as node");
                    String id = id(line);
                    assertTrue(id.startsWith("reg-"), line);
                    String nodeId = field(line, "as node (\\S+) in tenant");
                    Await.until(Duration.ofSeconds(5), "the relay's line for " + nodeId,
                            () -> r.logText().contains("node " + nodeId + " ("));
                    assertEquals(id, id(line(r.logText(), "node " + nodeId + " (")), "the relay's registration line has the node's id");
                }

                // A hole-punching attempt: both nodes' lines for the path it found, and the relay's forwarding of its offers.
                Await.until(Duration.ofSeconds(20), "a direct path on both nodes",
                        () -> a.logText().contains("\"message\":\"direct path to ") && b.logText().contains("\"message\":\"direct path to "));
                String alphaPath = id(line(a.logText(), "\"message\":\"direct path to "));
                String bravoPath = id(line(b.logText(), "\"message\":\"direct path to "));
                assertTrue(alphaPath.startsWith("ice-"), alphaPath);
                assertEquals(alphaPath, bravoPath, "one attempt, one id on both nodes");
                assertTrue(r.logText().lines().anyMatch(l -> l.contains("signal ice.offer from node") && l.contains("\"correlationId\":\""
                        + alphaPath + "\"")), "the relay forwarded the attempt's offers under its id");

                // A relay session over QUIC: the node's attempt and the relay's attachment.
                Await.until(Duration.ofSeconds(30), "alpha over QUIC", () -> a.exec("cb:paths").out().startsWith("relay path: quic"));
                String quicAttempt = id(line(a.logText(), "opening a relay session over quic"));
                assertTrue(quicAttempt.startsWith("relay-"), quicAttempt);
                Await.until(Duration.ofSeconds(5), "the relay's QUIC session",
                        () -> r.logText().lines().anyMatch(l -> l.contains("connected over quic")
                                && l.contains("\"correlationId\":\"" + quicAttempt + "\"")));

                // An admin command: its lines on the node (Gogo runs it on a thread of the session's; the
                // feature change on the kernel's) carry the command's id.
                assertEquals(0, a.exec("feature:uninstall", "transport-quic").exit());
                String uninstalled = line(a.logText(), "feature transport-quic uninstalled");
                assertTrue(id(uninstalled).matches("admin-[0-9a-z]{10}\\.1"), uninstalled);

                // A relay session over WebSocket (QUIC taken away on alpha): the node's attempt and the relay's attachment.
                // A new WebSocket dial after QUIC's removal (the idle one was closed while QUIC carried the
                // peers): under CI's load the TLS and upgrade round trips once took more than 10 s.
                Await.until(Duration.ofSeconds(30), "alpha over WebSocket", () -> a.exec("cb:paths").out().startsWith("relay path: websocket"));
                String opening = line(a.logText(), "opening a relay session over websocket");
                String attempt = id(opening);
                assertTrue(attempt.startsWith("relay-"), opening);
                Await.until(Duration.ofSeconds(5), "the relay's WebSocket session",
                        () -> r.logText().lines().anyMatch(l -> l.contains("connected over websocket")
                                && l.contains("\"correlationId\":\"" + attempt + "\"")));
            }
        }
    }

    private Daemon node(String name, int controlPort, int quicPort, int tlsPort, int stunPort, String key) throws Exception {
        Path dir = Files.createDirectories(work.resolve(name));
        Path keyFile = dir.resolve("preauth.key");
        RuntimeTestSupport.writeOwnerOnly(keyFile, key + "\n");
        Daemon node = new Daemon(dir);
        node.command = "up";
        RuntimeTestSupport.writeOwnerOnly(node.config, RuntimeTestSupport.nodeYaml(dir, name, controlPort,
                "  transports: [quic://127.0.0.1:" + quicPort + ", wss://127.0.0.1:" + tlsPort + "]",
                "ice:", "  stunPort: " + stunPort));
        return node.start("--pre-auth-key-file", keyFile.toString(), "--userspace");
    }

    /** The last log line containing {@code text}. */
    private static String line(String log, String text) {
        String found = null;
        for (String l : log.split("\n")) {
            if (l.contains(text)) {
                found = l;
            }
        }
        assertNotNull(found, "no line with '" + text + "' in:\n" + log);
        return found;
    }

    private static String id(String line) {
        return field(line, "\"correlationId\":\"([A-Za-z0-9._:-]+)\"");
    }

    private static String field(String line, String regex) {
        Matcher m = Pattern.compile(regex).matcher(line);
        assertTrue(m.find(), regex + " in " + line);
        return m.group(1);
    }
}
