package io.cloudbridge.itest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import io.cloudbridge.testing.Requirements;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What uninstalled features and updated bundles leave in memory: nothing. Their bundles' class
 * loaders go once the framework has refreshed them away, and the daemon lives on.
 *
 * <p>Found by the chaos test's bounds: each relay cycle kept twenty uninstalled revisions alive
 * through Netty's thread-local map on the feature manager's long-lived thread, each overlay cycle
 * two through JNA's registration of the TUN bundle's libc class, and every revision with native
 * code was kept on purpose (unloading Netty's QUIC library crashed a node's JVM), with all it was
 * wired to: a node ended a chaos run with 15 revisions of the QUIC codec. Netty and JNA are in the
 * boot layer now, loaded once, and an updated bundle is refreshed at once.
 */
class UninstalledRevisionsTest {
    static final int CYCLES = 3;
    /** Threads that a bundle's code ran on end a moment after it stopped (event loops, pools). */
    static final Duration UNLOAD_WITHIN = Duration.ofSeconds(45);

    @TempDir
    Path work;

    @Test
    void uninstalledFeaturesAndUpdatedBundlesLeaveNothingBehindAndTheDaemonLives() throws Exception {
        Daemon daemon = new Daemon(Files.createDirectories(work.resolve("daemon")));
        RuntimeTestSupport.writeOwnerOnly(daemon.config, String.join("\n",
                "kernel:", "  features: [core, shell]",
                "logging:", "  level: info",
                "metrics:", "  enabled: false",
                "relay:", "  listenAddress: 127.0.0.1", "  controlPort: " + RuntimeTestSupport.freeTcpPort(), "  jwksPort: 0",
                "listeners:", "  address: 127.0.0.1", "  tlsPort: 0", "  quicPort: 0", "  stunPort: -1",
                // As root the overlay opens a real TUN device (JNA's native code at work); as
                // another user it runs in userspace.
                "wireguard:", "  interfaceName: cbrev0", "  userspace: " + !Requirements.isRoot(), "  listenPort: 0", ""));
        // Soft references are cleared at every collection, so that what is left is held strongly.
        daemon.env.put("CLOUDBRIDGE_JAVA_OPTS", "-XX:SoftRefLRUPolicyMSPerMB=0");
        Daemon d = daemon.start();
        try {
            int base = loaders(d);
            List<Integer> counts = new ArrayList<>(List.of(base));
            // The relay brings the QUIC listener (Netty's QUIC and epoll libraries), the overlay a
            // TUN device (JNA), masque both and Netty's DNS resolver.
            for (String feature : List.of("transport-websocket", "relay", "overlay", "masque")) {
                for (int i = 0; i < CYCLES; i++) {
                    cycle(d, feature);
                }
                counts.add(loaders(d));
            }
            Await.until(UNLOAD_WITHIN, "the bundle class loaders back to " + base + " after the feature cycles " + counts,
                    () -> quietly(() -> loaders(d) <= base));
            // An update without a refresh by hand: the kernel refreshes it, and the old revision goes.
            assertEquals(0, d.exec("feature:install", "relay").exit(), d.logText());
            int withRelay = loaders(d);
            assertEquals(0, d.exec("update", "io.cloudbridge.store").exit(), d.logText());
            Await.until(Duration.ofSeconds(10), "the kernel refreshing the updated bundle",
                    () -> d.logText().contains("refreshing [io.cloudbridge.store] so that the update takes effect"));
            Await.until(UNLOAD_WITHIN, "the old revision of the updated bundle unloaded (" + withRelay + " loaders with the relay)",
                    () -> quietly(() -> loaders(d) <= withRelay));
            assertEquals(0, d.exec("feature:uninstall", "relay").exit(), d.logText());
            Await.until(UNLOAD_WITHIN, "the bundle class loaders back to " + base, () -> quietly(() -> loaders(d) <= base));
            System.out.println("bundle class loaders: " + counts + " (start, then after " + CYCLES
                    + " cycles of transport-websocket, relay, overlay and masque), then " + loaders(d));
            assertTrue(d.process().isAlive(), "the daemon died:\n" + d.logText());
        } finally {
            d.close();
        }
        // 143: the JVM's exit on SIGTERM; a crash is 134 (SIGABRT after the fatal-error report).
        assertTrue(d.exitValue() == 0 || d.exitValue() == 143, "the daemon's exit after the cycles: " + d.exitValue() + "\n"
                + d.logText());
    }

    private static void cycle(Daemon d, String feature) {
        assertEquals(0, d.exec("feature:install", feature).exit(), d.logText());
        assertEquals(0, d.exec("feature:uninstall", feature).exit(), d.logText());
    }

    private static boolean quietly(java.util.concurrent.Callable<Boolean> check) {
        try {
            return check.call();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    /** Bundle class loaders alive after a full collection, from the JVM's own count. */
    private static int loaders(Daemon d) throws Exception {
        jcmd(d, "GC.run");
        String stats = jcmd(d, "VM.classloader_stats");
        return (int) stats.lines().filter(l -> l.contains("BundleWiringImpl$BundleClassLoader")).count();
    }

    private static String jcmd(Daemon d, String command) throws Exception {
        Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
        Process p = new ProcessBuilder(jcmd.toString(), String.valueOf(d.pid()), command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new AssertionError("jcmd " + command + " failed: " + out);
        }
        return out;
    }
}
