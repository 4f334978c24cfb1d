package io.cloudbridge.itest;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code cb:bugreport} on a relay and a node that registered with it: the archive holds the
 * commands' answers, versions and the last log lines, and none of the secrets the test knows: the
 * pre-auth key, the node's WireGuard private key, its tokens and credentials, the relay's TLS and
 * rotation keys.
 */
class BugReportTest {
    @TempDir
    Path work;

    @Test
    void aReportHoldsWhatAnOperatorNeedsAndNoSecret() throws Exception {
        int port = RuntimeTestSupport.freeTcpPort();
        Daemon relay = new Daemon(Files.createDirectories(work.resolve("relay")));
        RuntimeTestSupport.writeOwnerOnly(relay.config, String.join("\n", "kernel:", "  features: [core, shell, relay]",
                "relay:", "  listenAddress: 127.0.0.1", "  controlPort: " + port, "  jwksPort: 0",
                "listeners:", "  address: 127.0.0.1", "  tlsPort: " + RuntimeTestSupport.freeTcpPort(), "  quicPort: -1", "  stunPort: -1", ""));
        try (Daemon r = relay.start()) {
            Await.until(Duration.ofSeconds(20), "the relay listening", () -> r.logText().contains("relay control service listening"));
            String key = r.exec("relay:key", "create", "--tenant", "acme", "--reusable").out().trim();
            Path dir = Files.createDirectories(work.resolve("node"));
            Path keyFile = dir.resolve("preauth.key");
            RuntimeTestSupport.writeOwnerOnly(keyFile, key + "\n");
            Daemon node = new Daemon(dir);
            RuntimeTestSupport.writeOwnerOnly(node.config, RuntimeTestSupport.nodeYaml(dir, "report", port, "  preAuthKeyFile: " + keyFile));
            try (Daemon n = node.start()) {
                Await.until(Duration.ofSeconds(20), "the node registered", () -> n.whoami("status").equals("registered"));

                Map<String, String> nodeReport = report(n);
                assertTrue(nodeReport.get("commands/cb-status.txt").contains("uptime"), nodeReport.keySet().toString());
                assertTrue(nodeReport.get("commands/cb-whoami.txt").contains("registered"), nodeReport.get("commands/cb-whoami.txt"));
                assertTrue(nodeReport.get("commands/metrics-show.txt").contains("jvm_memory_used_bytes"), "metrics as /metrics serves them");
                assertTrue(nodeReport.get("commands/relay-tenants.txt").startsWith("(not in this daemon"), "a relay's command, absent");
                assertTrue(nodeReport.get("versions.txt").contains("io.cloudbridge.wireguard"), nodeReport.get("versions.txt"));
                assertTrue(nodeReport.get("log.jsonl").contains("registered with the relay"), "the last log lines");

                Map<String, String> relayReport = report(r);
                assertTrue(relayReport.get("commands/relay-tenants.txt").contains("acme"), relayReport.get("commands/relay-tenants.txt"));

                Set<String> secrets = new LinkedHashSet<>();
                secrets.add(key);
                java.util.regex.Matcher parts = java.util.regex.Pattern.compile("cbk_[0-9a-f]{12}_(.{43})").matcher(key);
                assertTrue(parts.matches(), key);
                secrets.add(parts.group(1)); // (its secret part: base64url, which may hold '_' itself)
                secrets.addAll(secretsIn(dir.resolve("wg.key")));
                secretsUnder(n.state.resolve("credentials"), secrets);
                secretsUnder(n.state.resolve("control"), secrets);
                secretsUnder(r.state.resolve("relay"), secrets);
                assertTrue(secrets.size() > 3, "the test knows the secrets it looks for: " + secrets.size());
                for (Map<String, String> report : java.util.List.of(nodeReport, relayReport)) {
                    for (Map.Entry<String, String> entry : report.entrySet()) {
                        assertFalse(java.util.regex.Pattern.compile("eyJ[A-Za-z0-9_-]{8,}\\.").matcher(entry.getValue()).find(),
                                entry.getKey() + " holds a JWT");
                        for (String secret : secrets) {
                            assertFalse(entry.getValue().contains(secret), entry.getKey() + " holds a secret of the test's");
                        }
                    }
                }
            }
        }
    }

    /** Runs cb:bugreport and reads the archive it names. */
    private static Map<String, String> report(Daemon daemon) throws IOException {
        Daemon.Result done = daemon.exec("cb:bugreport");
        assertTrue(done.exit() == 0, done.out() + done.err());
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("written to (\\S+\\.zip)").matcher(done.out());
        assertTrue(m.find(), done.out());
        Path archive = Path.of(m.group(1));
        assertTrue(archive.startsWith(daemon.state), "in the state folder");
        assertTrue(Files.getPosixFilePermissions(archive).equals(java.nio.file.attribute.PosixFilePermissions.fromString("rw-------")),
                "owner-only");
        Map<String, String> entries = new HashMap<>();
        try (InputStream in = Files.newInputStream(archive); ZipInputStream zip = new ZipInputStream(in)) {
            for (ZipEntry e = zip.getNextEntry(); e != null; e = zip.getNextEntry()) {
                entries.put(e.getName(), new String(zip.readAllBytes(), StandardCharsets.UTF_8));
            }
        }
        return entries;
    }

    /** The long runs of key and token characters in every file under {@code folder} (keys, tokens, PEM bodies). */
    private static void secretsUnder(Path folder, Set<String> secrets) throws IOException {
        if (!Files.isDirectory(folder)) {
            return;
        }
        try (Stream<Path> files = Files.walk(folder)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                String name = f.getFileName().toString();
                if (name.endsWith(".mv.db") || name.equals("relay-pin") || name.endsWith(".crt") || name.contains("cert")) {
                    continue; // the database (its secrets are hashes or sealed) and what is public: pins, certificates
                }
                secrets.addAll(secretsIn(f));
            }
        }
    }

    private static Set<String> secretsIn(Path file) throws IOException {
        Set<String> out = new LinkedHashSet<>();
        String text = new String(Files.readAllBytes(file), StandardCharsets.ISO_8859_1);
        for (String run : text.split("[^A-Za-z0-9+/=_.-]+")) {
            if (run.length() >= 24 && !run.startsWith("-----")) {
                out.add(run.length() > 64 ? run.substring(0, 64) : run);
            }
        }
        return out;
    }
}
