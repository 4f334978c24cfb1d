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
 * What an uninstalled feature leaves in memory. Its bundles' class loaders go, except those of
 * revisions that carry native code, which the kernel keeps on purpose: the chaos test crashed a
 * node's JVM when Netty's QUIC library (BoringSSL, with a thread-exit destructor) was unloaded
 * with its class loader and a thread that had used it ended afterwards.
 *
 * <p>Found by the chaos test's metaspace bound: each relay cycle kept twenty uninstalled revisions
 * alive through Netty's thread-local map on the feature manager's long-lived thread, and each
 * overlay cycle two through JNA's registration of the TUN bundle's libc class; those holders are
 * gone, and what stays now is the native code and what it is wired to.
 */
class UninstalledRevisionsTest {
    static final int CYCLES = 3;
    /** JNA's cleaner thread (which holds JNA's class loader) lingers 30 s after its last cleanup. */
    static final Duration UNLOAD_WITHIN = Duration.ofSeconds(45);

    @TempDir
    Path work;

    @Test
    void uninstalledFeaturesLeaveOnlyTheirNativeCodeBehindAndTheDaemonLives() throws Exception {
        Daemon daemon = new Daemon(Files.createDirectories(work.resolve("daemon")));
        RuntimeTestSupport.writeOwnerOnly(daemon.config, String.join("\n",
                "kernel:", "  features: [core, shell]",
                "logging:", "  level: warn",
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
            // A feature without native code: everything goes.
            for (int i = 0; i < CYCLES; i++) {
                cycle(d, "transport-websocket");
            }
            Await.until(UNLOAD_WITHIN, "the bundle class loaders back to " + base, () -> quietly(() -> loaders(d) <= base));
            // Features with native code (Netty's QUIC and epoll libraries, JNA): their revisions
            // stay, at most as many each cycle as the first cycle left.
            List<Integer> counts = new ArrayList<>();
            counts.add(base);
            for (String feature : List.of("relay", "overlay")) {
                for (int i = 0; i < CYCLES; i++) {
                    cycle(d, feature);
                    counts.add(loaders(d));
                }
            }
            System.out.println("bundle class loaders: " + counts + " (start, then after each of " + CYCLES + " relay and "
                    + CYCLES + " overlay cycles)");
            int firstRelay = counts.get(1) - counts.get(0);
            for (int i = 2; i <= CYCLES; i++) {
                assertTrue(counts.get(i) - counts.get(i - 1) <= firstRelay, "a relay cycle kept more than the first: " + counts);
            }
            // Threads that used the native libraries end (the feature manager's after each change),
            // collections run: the daemon is alive, and stops cleanly.
            loaders(d);
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
