package io.cloudbridge.itest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.testing.Requirements;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The audit trail of a relay: what it started with, an edit of its configuration (a secret in it
 * named, never shown), an admin command (a pre-auth key in it masked) with the peer's user, a
 * feature installed, a refused registration (a security event, kept with the log turned down to
 * errors), all chained and forwarded to a real syslog server (rsyslogd); {@code audit:verify}
 * passes, across a restart; a line changed in the file then fails it, naming the line.
 */
class AuditTrailTest {
    @TempDir
    Path work;

    private static final String FIRST_SECRET = "first-vendor-api-secret-" + Long.toHexString(System.nanoTime());
    private static final String SECOND_SECRET = "second-vendor-api-secret-" + Long.toHexString(System.nanoTime());
    private static final String PRE_AUTH_KEY = "cbk_0123456789ab_" + "Q".repeat(43);

    @Test
    void theTrailRecordsChangesCommandsAndRefusalsAndCatchesAnEdit() throws Exception {
        Path rsyslogd = Requirements.requireTool("rsyslogd", "apt-get install rsyslog");
        int syslogPort = RuntimeTestSupport.freeUdpPort();
        Path syslogOut = work.resolve("syslog.log");
        Path syslogConf = work.resolve("rsyslog.conf");
        Files.writeString(syslogConf, String.join("\n",
                "global(workDirectory=\"" + work + "\")",
                "module(load=\"imudp\")",
                "input(type=\"imudp\" address=\"127.0.0.1\" port=\"" + syslogPort + "\")",
                "template(name=\"audit\" type=\"string\" string=\"%PRI% %APP-NAME% %MSGID% %msg%\\n\")",
                "*.* action(type=\"omfile\" file=\"" + syslogOut + "\" template=\"audit\")", ""));
        Process syslog = new ProcessBuilder(rsyslogd.toString(), "-n", "-f", syslogConf.toString(), "-i",
                work.resolve("rsyslogd.pid").toString()).redirectErrorStream(true)
                .redirectOutput(work.resolve("rsyslogd.out").toFile()).start();
        try {
            int port = RuntimeTestSupport.freeTcpPort();
            Daemon relay = new Daemon(Files.createDirectories(work.resolve("relay")));
            String config = String.join("\n", "kernel:", "  features: [core, shell, relay]",
                    // The log turned down to errors: the trail keeps the security events all the same.
                    "logging:", "  level: error",
                    "relay:", "  listenAddress: 127.0.0.1", "  controlPort: " + port, "  jwksPort: 0",
                    "listeners:", "  address: 127.0.0.1", "  tlsPort: " + RuntimeTestSupport.freeTcpPort(), "  quicPort: -1",
                    "  stunPort: -1",
                    "metrics:", "  port: 19464",
                    "audit:", "  checkpointEntries: 5", "  syslog: udp://127.0.0.1:" + syslogPort,
                    // A section no feature here declares, holding a secret: kept, and never shown.
                    "vendor:", "  apiKey: " + FIRST_SECRET, "");
            RuntimeTestSupport.writeOwnerOnly(relay.config, config);
            Path trail = relay.state.resolve("audit").resolve("audit.jsonl");
            try (Daemon r = relay.start()) {
                Await.until(Duration.ofSeconds(20), "the relay's configuration in the trail",
                        () -> text(trail).contains("\"action\":\"in force\""));
                // A command with a secret on its line, and one that changes the daemon.
                r.exec("relay:key", "revoke", PRE_AUTH_KEY);
                Daemon.Result install = r.exec("feature:install", "masque");
                assertEquals(0, install.exit(), install.out() + install.err());
                RuntimeTestSupport.writeOwnerOnly(relay.config, config.replace(FIRST_SECRET, SECOND_SECRET)
                        .replace("port: 19464", "port: 19465"));
                Await.until(Duration.ofSeconds(10), "the edit in the trail", () -> text(trail).contains("\"action\":\"applied\""));

                // A node whose pre-auth key the relay does not know.
                Path dir = Files.createDirectories(work.resolve("node"));
                Path keyFile = dir.resolve("preauth.key");
                RuntimeTestSupport.writeOwnerOnly(keyFile, PRE_AUTH_KEY + "\n");
                Daemon node = new Daemon(dir);
                RuntimeTestSupport.writeOwnerOnly(node.config, RuntimeTestSupport.nodeYaml(dir, "refused", port,
                        "  preAuthKeyFile: " + keyFile));
                try (Daemon n = node.start()) {
                    Await.until(Duration.ofSeconds(20), "the refusal in the relay's trail",
                            () -> text(trail).contains("\"category\":\"security\""));
                }
                assertFalse(r.logText().contains("control request refused"), "the log (at error) left the refusal out");

                Daemon.Result verified = r.exec("audit:verify");
                assertEquals(0, verified.exit(), verified.out() + verified.err());
                assertTrue(verified.out().contains("audit trail verified"), verified.out());
            }

            String written = text(trail);
            List<String> lines = Files.readAllLines(trail, StandardCharsets.UTF_8);
            assertTrue(written.contains("\"category\":\"config\",\"action\":\"in force\""), "what the daemon started with");
            assertTrue(written.contains("\"vendor.apiKey\":\"***\""), "the secret named, masked");
            assertTrue(written.contains("\"vendor.apiKey\":\"secret changed\""), "its change said");
            assertTrue(written.contains("\"metrics.port\":\"19464 -> 19465\""), "a value's change");
            assertTrue(written.contains("\"category\":\"feature\",\"action\":\"installed\""), "the feature");
            assertTrue(written.contains("\"category\":\"bundle\",\"action\":\"installed\",\"actor\":\"io.cloudbridge.kernel\""),
                    "its bundles, installed by the kernel");
            String user = System.getProperty("user.name");
            assertTrue(lines.stream().anyMatch(l -> l.contains("\"category\":\"admin\",\"action\":\"command\",\"actor\":\"" + user
                    + "\"") && l.contains("relay:key revoke cbk_0123456789ab_***")), "the command, masked, its user");
            assertTrue(lines.stream().anyMatch(l -> l.contains("\"category\":\"security\"") && l.contains("pre-auth key")),
                    "the refused registration");
            assertTrue(written.contains("\"action\":\"closed\""), "the stop");
            assertEquals(java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"),
                    Files.getPosixFilePermissions(trail.resolveSibling("checkpoint.key")), "the signing key, owner-only");
            for (String secret : List.of(FIRST_SECRET, SECOND_SECRET, "Q".repeat(43))) {
                assertFalse(written.contains(secret), "no secret in the trail");
            }

            // Every line went to syslog too, as authpriv.notice from cloudbridge, msgid audit.
            Await.until(Duration.ofSeconds(5), "the last line at the syslog server",
                    () -> text(syslogOut).contains(lines.get(lines.size() - 1)));
            String forwarded = text(syslogOut);
            for (String line : lines) {
                assertTrue(forwarded.contains("85 cloudbridge audit " + line), "forwarded: " + line);
            }

            // Started again: the chain goes on from where it stopped, and verifies.
            try (Daemon r = relay.start()) {
                Daemon.Result verified = r.exec("audit:verify");
                assertEquals(0, verified.exit(), verified.out() + verified.err());
                assertTrue(verified.out().contains("entries (1-"), verified.out());
                long last = Long.parseLong(lines.get(lines.size() - 1).replaceFirst("^\\{\"seq\":(\\d+),.*", "$1"));
                String resumed = Files.readAllLines(trail).get(lines.size());
                assertTrue(resumed.startsWith("{\"seq\":" + (last + 1) + ","), resumed);

                // One line changed in the file (a command's user rewritten): verify fails and names the line.
                List<String> edited = Files.readAllLines(trail, StandardCharsets.UTF_8);
                int index = -1;
                for (int i = 0; i < edited.size(); i++) {
                    if (edited.get(i).contains("\"action\":\"command\",\"actor\":\"" + user + "\"")) {
                        index = i;
                        break;
                    }
                }
                assertTrue(index >= 0);
                edited.set(index, edited.get(index).replace("\"actor\":\"" + user + "\"", "\"actor\":\"nobody-else\""));
                Files.write(trail, edited, StandardCharsets.UTF_8);
                Daemon.Result failed = r.exec("audit:verify");
                String said = failed.out() + failed.err();
                assertEquals(1, failed.exit(), said);
                assertTrue(said.contains("audit.jsonl line " + (index + 1) + " (entry "), said);
                assertTrue(said.contains("changed: its hash does not match its text"), said);
            }
        } finally {
            syslog.destroy();
            syslog.waitFor(10, TimeUnit.SECONDS);
        }
    }

    private static String text(Path file) {
        try {
            return Files.exists(file) ? Files.readString(file, StandardCharsets.UTF_8) : "";
        } catch (IOException e) {
            return e.toString();
        }
    }
}
