package io.cloudbridge.itest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Admin commands that reach a daemon while the launcher is still starting its bundles. Found by
 * hand: {@code feature:uninstall transport-websocket} as soon as the admin socket of a starting
 * relay answered uninstalled a bundle the launcher was about to start, and the whole runtime ended
 * ("Cannot start an uninstalled bundle").
 */
class StartUpTest {
    @TempDir
    Path work;

    @Test
    void aFeatureChangeDuringTheStartWaitsForItAndTheDaemonLives() throws Exception {
        Daemon relay = relay();
        Process p = launchUntilTheSocketAnswers(relay);
        try {
            boolean startedBeforeTheCommand = relay.logText().contains("runtime started");
            Daemon.Result status = relay.exec("cb:status");
            Daemon.Result uninstall = relay.exec("feature:uninstall", "transport-websocket");
            Await.until(Duration.ofSeconds(30), "the start to end; log:\n" + relay.logText(),
                    () -> !p.isAlive() || relay.logText().contains("runtime started"));
            assertTrue(p.isAlive(), "the daemon died; log:\n" + relay.logText());
            assertFalse(relay.logText().contains("the runtime failed to start"), relay.logText());
            assertEquals(0, uninstall.exit(), uninstall.out() + uninstall.err());
            assertTrue(uninstall.out().contains("feature transport-websocket uninstalled"), uninstall.out());
            if (!startedBeforeTheCommand) {
                // Asked before the start ended, status says so instead of naming bundles that
                // have simply not been started yet.
                assertTrue(status.out().contains("health:          starting"), status.out());
                assertFalse(status.out().contains("problem:"), status.out());
            }
            Daemon.Result after = relay.exec("cb:status");
            assertTrue(after.out().contains("health:          ok"), after.out());
            // A relay without OIDC is whole: the sign-in components are off by choice.
            assertTrue(after.out().contains("not configured:  sections identity, oidc"), after.out());
            Daemon.Result login = relay.exec("cb:login");
            assertEquals(1, login.exit());
            assertTrue(login.err().contains("OpenID Connect sign-in is not configured"), login.err());
            String features = relay.exec("feature:list").out();
            assertTrue(features.matches("(?s).*transport-websocket +available.*"), features);
            // The catalog describes what is built, not what was once planned.
            assertFalse(features.contains("to come"), features);
            assertTrue(features.matches("(?s).*\\bice +available +NAT traversal \\(ICE hole punching.*"), features);
            System.out.println("feature change " + (startedBeforeTheCommand ? "after" : "during") + " the start");
        } finally {
            relay.close();
            p.destroyForcibly();
        }
    }

    @Test
    void aBundleUninstalledByHandDuringTheStartLeavesTheRestRunning() throws Exception {
        Daemon relay = relay();
        Process p = launchUntilTheSocketAnswers(relay);
        try {
            // Gogo's own command, which no feature manager sees: the launcher may not have
            // started this bundle yet.
            Daemon.Result uninstall = relay.exec("felix:uninstall", "io.cloudbridge.transport.quic");
            Await.until(Duration.ofSeconds(30), "the start to end; log:\n" + relay.logText(),
                    () -> !p.isAlive() || relay.logText().contains("runtime started"));
            assertTrue(p.isAlive(), "the daemon died; log:\n" + relay.logText());
            assertEquals(0, uninstall.exit(), uninstall.out() + uninstall.err());
            Daemon.Result after = relay.exec("cb:status");
            assertTrue(after.out().contains("health:          degraded"), after.out());
            assertTrue(after.out().contains("io.cloudbridge.transport.quic is not installed"), after.out());
            // The feature manager puts it back.
            assertEquals(0, relay.exec("feature:uninstall", "transport-quic").exit());
            assertEquals(0, relay.exec("feature:install", "transport-quic").exit());
            assertTrue(relay.exec("cb:status").out().contains("health:          ok"));
        } finally {
            relay.close();
            p.destroyForcibly();
        }
    }

    /**
     * A transport bundle carries a relay-side route behind an optional import of the relay's route
     * contract. Installing the relay feature where the transport ran without it (a node) used to
     * leave that import unwired, and the route's class failed to load as soon as its component was
     * satisfied (NoClassDefFoundError in the framework's event dispatch, found by the chaos test).
     */
    @Test
    void aFeatureThatExportsWhatAnotherBundleOptionallyImportsRewiresIt() throws Exception {
        Daemon d = new Daemon(work);
        RuntimeTestSupport.writeOwnerOnly(d.config, String.join("\n", "kernel:", "  features: [core, shell, transport-websocket]",
                "relay:", "  listenAddress: 127.0.0.1", "  controlPort: " + RuntimeTestSupport.freeTcpPort(), "  jwksPort: 0",
                "listeners:", "  address: 127.0.0.1", "  tlsPort: " + RuntimeTestSupport.freeTcpPort(),
                "  quicPort: " + RuntimeTestSupport.freeUdpPort(), "  stunPort: -1", ""));
        try (Daemon daemon = d.start()) {
            // Without the relay the route is another role's half of the plugin: not a problem.
            String before = daemon.exec("cb:status").out();
            assertTrue(before.contains("health:          ok") && before.contains("dormant:         WebSocketRoute (needs io.cloudbridge.relay.spi)"),
                    before);
            Daemon.Result install = daemon.exec("feature:install", "relay");
            assertEquals(0, install.exit(), install.out() + install.err());
            Await.until(Duration.ofSeconds(10), "the WebSocket route on the relay",
                    () -> daemon.logText().contains("relay route /cloudbridge/v1/ws"));
            assertEquals(0, daemon.exec("feature:uninstall", "relay").exit());
            assertFalse(daemon.logText().contains("\"level\":\"ERROR\""), daemon.logText());
            assertTrue(daemon.exec("cb:status").out().contains("health:          ok"), daemon.exec("cb:status").out());
        }
    }

    /**
     * The start script's class-data archive (issue 20: a node up fast): recorded when the first
     * daemon stops, mapped by the starts after, and recorded again when it is missing, when a
     * recording was cut short (mapping one crashes the JVM), when it was damaged later, and when
     * the JDK or the distribution changed.
     */
    @Test
    void theClassDataArchiveIsRecordedMappedAndRecordedAgainWhenMissingCutShortDamagedOrStale() throws Exception {
        Daemon d = new Daemon(work);
        d.env.remove(Daemon.START_CACHE);
        Path jvm = d.state.resolve("jvm");

        startAndStop(d, null);
        Path recorded = only(jvm, ".jsa.new");
        Path archive = recorded.resolveSibling(recorded.getFileName().toString().replace(".jsa.new", ".jsa"));
        startAndStop(d, archive);
        assertEquals(List.of(archive), files(jvm));

        // Missing: the next start records one.
        Files.delete(archive);
        startAndStop(d, null);
        assertEquals(List.of(recorded, recorded.resolveSibling(archive.getFileName() + ".started")), files(jvm));

        // Cut short (the daemon killed while the JVM wrote it): caught before use; that start records again.
        truncate(recorded, 64 * 1024);
        startAndStop(d, null);
        assertTrue(Files.size(recorded) > 1024 * 1024, "recorded again: " + files(jvm));
        startAndStop(d, archive);

        // Damaged later: the JVM leaves it aside (its checksums), the daemon removes it, the next start records again.
        damage(archive);
        startAndStop(d, null);
        assertTrue(d.logText().contains("the class-data archive " + archive + " was not used"), d.logText());
        assertEquals(List.of(), files(jvm));
        startAndStop(d, null);
        startAndStop(d, archive);

        // Another JDK or version of the jars (the digest in its name changes; different JVM options
        // stand in for them here): the old archive goes, a new one is recorded.
        d.env.put("CLOUDBRIDGE_JAVA_OPTS", "-Dcloudbridge.test.stale=1");
        startAndStop(d, null);
        Path next = only(jvm, ".jsa.new");
        assertFalse(next.equals(recorded), next.toString());
        assertFalse(Files.exists(archive));
        assertFalse(d.logText().contains("\"level\":\"ERROR\""), d.logText());
    }

    /** One start to a started runtime and a stop; {@code mapped}: the archive its JVM must map, or null for none of its own. */
    private static void startAndStop(Daemon d, Path mapped) throws Exception {
        int before = d.logText().split("runtime started", -1).length;
        Process p = d.begin();
        Await.until(Duration.ofSeconds(30), "the runtime started; log:\n" + d.logText(),
                () -> !p.isAlive() || d.logText().split("runtime started", -1).length > before);
        assertTrue(p.isAlive(), "the daemon died; log:\n" + d.logText());
        String maps = Files.readString(Path.of("/proc/" + p.pid() + "/maps"));
        if (mapped != null) {
            assertTrue(maps.contains(mapped.toRealPath().toString()), "not mapped: " + mapped);
        } else {
            assertFalse(maps.contains(d.state.resolve("jvm").toRealPath().toString()), "an archive of the state folder is mapped");
        }
        d.stop();
    }

    private static List<Path> files(Path dir) throws java.io.IOException {
        try (var s = Files.list(dir)) {
            return s.sorted().toList();
        }
    }

    private static Path only(Path dir, String suffix) throws java.io.IOException {
        List<Path> found = files(dir).stream().filter(f -> f.getFileName().toString().endsWith(suffix)).toList();
        assertEquals(1, found.size(), "one *" + suffix + " in " + files(dir));
        return found.get(0);
    }

    private static void truncate(Path file, long size) throws java.io.IOException {
        file.toFile().setWritable(true);
        try (var ch = java.nio.channels.FileChannel.open(file, java.nio.file.StandardOpenOption.WRITE)) {
            ch.truncate(size);
        }
    }

    /** Overwrites a run of bytes in the middle of the file: its header stays valid, its checksums do not. */
    private static void damage(Path file) throws java.io.IOException {
        file.toFile().setWritable(true);
        try (var ch = java.nio.channels.FileChannel.open(file, java.nio.file.StandardOpenOption.WRITE)) {
            ch.write(java.nio.ByteBuffer.wrap(new byte[4096]), Files.size(file) / 2);
        }
    }

    /** Starts it, and returns as soon as its admin socket answers: the launcher is still starting bundles then. */
    private static Process launchUntilTheSocketAnswers(Daemon relay) throws Exception {
        Process p = relay.begin();
        Await.until(Duration.ofSeconds(30), "the admin socket",
                () -> !p.isAlive() || Files.exists(relay.socket()) && relay.exec("cb:status").exit() == 0);
        return p;
    }

    private Daemon relay() throws Exception {
        Daemon relay = new Daemon(work);
        relay.command = "relay";
        RuntimeTestSupport.writeOwnerOnly(relay.config, String.join("\n",
                "relay:", "  listenAddress: 127.0.0.1", "  controlPort: " + RuntimeTestSupport.freeTcpPort(), "  jwksPort: 0",
                "listeners:", "  address: 127.0.0.1", "  tlsPort: " + RuntimeTestSupport.freeTcpPort(),
                "  quicPort: " + RuntimeTestSupport.freeUdpPort(), "  stunPort: -1", ""));
        return relay;
    }
}
