package io.cloudbridge.itest;

import static org.junit.jupiter.api.Assertions.assertEquals;

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
 * A feature uninstalled leaves no class loader behind: after install/uninstall cycles of the
 * relay feature (database, control plane, gRPC, BouncyCastle, Netty) and of the overlay feature
 * (the TUN device's native binding), a full GC brings the daemon back to its first count of bundle
 * class loaders. Found by the chaos test's metaspace bound: each relay cycle kept twenty uninstalled
 * revisions alive through Netty's thread-local map on the feature manager's long-lived thread, and
 * each overlay cycle two through JNA's registration of the TUN bundle's libc class.
 */
class UninstalledRevisionsTest {
    static final int CYCLES = 3;
    /** JNA's cleaner thread (which holds JNA's class loader) lingers 30 s after its last cleanup. */
    static final Duration UNLOAD_WITHIN = Duration.ofSeconds(45);

    @TempDir
    Path work;

    @Test
    void uninstalledFeaturesLeaveNoClassLoaderBehind() throws Exception {
        Daemon daemon = new Daemon(Files.createDirectories(work.resolve("daemon")));
        RuntimeTestSupport.writeOwnerOnly(daemon.config, String.join("\n",
                "kernel:", "  features: [core, shell]",
                "logging:", "  level: warn",
                "metrics:", "  enabled: false",
                "relay:", "  listenAddress: 127.0.0.1", "  controlPort: " + RuntimeTestSupport.freeTcpPort(), "  jwksPort: 0",
                "listeners:", "  address: 127.0.0.1", "  tlsPort: 0", "  quicPort: 0", "  stunPort: -1",
                // As root the overlay opens a real TUN device (the native binding under test); as
                // another user it runs in userspace, and the relay's cycles are what is checked.
                "wireguard:", "  interfaceName: cbrev0", "  userspace: " + !Requirements.isRoot(), "  listenPort: 0", ""));
        // Soft references are cleared at every collection, so that what is left is held strongly.
        daemon.env.put("CLOUDBRIDGE_JAVA_OPTS", "-XX:SoftRefLRUPolicyMSPerMB=0");
        try (Daemon d = daemon.start()) {
            int base = loaders(d);
            List<Integer> after = new ArrayList<>();
            for (String feature : List.of("relay", "overlay")) {
                for (int i = 0; i < CYCLES; i++) {
                    assertEquals(0, d.exec("feature:install", feature).exit(), d.logText());
                    assertEquals(0, d.exec("feature:uninstall", feature).exit(), d.logText());
                }
                after.add(loaders(d));
            }
            System.out.println("bundle class loaders: " + base + " at start, " + after + " after " + CYCLES
                    + " cycles of relay, then of overlay");
            Duration took = Await.until(UNLOAD_WITHIN, "the bundle class loaders back to " + base + " (after the cycles: " + after + ")",
                    () -> {
                        try {
                            return loaders(d) <= base;
                        } catch (Exception e) {
                            throw new AssertionError(e);
                        }
                    });
            System.out.println("back to " + base + " bundle class loaders " + took.toMillis() + " ms after the last cycle");
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
