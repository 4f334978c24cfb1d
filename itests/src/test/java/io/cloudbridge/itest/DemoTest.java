package io.cloudbridge.itest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.testing.Requirements;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The README's main job, {@code bin/cloudbridge demo}, as users run it: as root it builds the
 * namespace lab (alpha behind an endpoint-independent NAT, bravo behind a symmetric one, charlie
 * public), and as another user it runs the same nodes in userspace on loopback. Either way it
 * ends within a minute with the path table, and leaves no process, namespace or folder behind.
 * The first half needs root (CI runs as root); the second, run as root, drops to user nobody with
 * setpriv, running a copy of the distribution that nobody can read, and run as anyone else runs
 * as that user.
 */
class DemoTest {

    @Test
    void asRootTheLabShowsDirectPathsWherePunchingWorksAndTheRelayWhereItCannot() throws Exception {
        // Any other user gets the userspace demo, which the other test covers: this one asserts on the lab's NATs.
        Requirements.requireRoot("to build the demo's namespace lab");
        Requirements.requireTools("apt-get install iproute2 nftables", "ip", "nft");
        String out = demo(List.of(), Daemon.SCRIPT);
        List<String> rows = rows(out);
        assertEquals(6, rows.size(), out);
        for (String row : rows) {
            boolean symmetricPair = (row.startsWith("alpha ") && row.contains(" bravo ")) || (row.startsWith("bravo ") && row.contains(" alpha "));
            if (symmetricPair) {
                // Endpoint-independent mapping with port-dependent filtering against a symmetric NAT: RFC 4787 leaves no hole.
                assertTrue(row.contains(" relay ") && row.contains("no candidate pair succeeded"), row);
            } else {
                assertTrue(row.contains(" direct "), row);
                assertTrue(!row.matches(".*host 10\\.\\d+\\.0\\.2.*"), "a private address crossed a NAT: " + row);
            }
            assertTrue(row.matches(".* [0-9.]+ ms .*"), "no RTT: " + row);
        }
        assertTrue(new String(new ProcessBuilder("ip", "netns", "list").start().getInputStream().readAllBytes()).lines()
                .noneMatch(l -> l.startsWith("cbd")), "namespaces left behind");
    }

    @Test
    void asAnotherUserTheSameNodesRunInUserspaceOnLoopback() throws Exception {
        String out;
        if (Requirements.isRoot()) {
            Requirements.requireTool("setpriv", "apt-get install util-linux");
            // User nobody may not be able to enter the checkout's folders: it runs a copy it can read.
            try (DistributionCopy dist = DistributionCopy.forAnotherUser()) {
                out = demo(List.of("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "env", "HOME=/tmp"), dist.script());
            }
        } else {
            out = demo(List.of(), Daemon.SCRIPT); // already a user other than root
        }
        assertTrue(out.contains("userspace nodes on loopback"), out);
        List<String> rows = rows(out);
        assertEquals(6, rows.size(), out);
        rows.forEach(r -> assertTrue(r.contains(" direct ") && r.contains("host 127.0.0.1:"), r));
    }

    private static String demo(List<String> prefix, Path script) throws Exception {
        List<String> cmd = new ArrayList<>(prefix);
        cmd.addAll(List.of(script.toString(), "demo"));
        Path log = Files.createTempFile("demo", ".out");
        log.toFile().setWritable(true, false);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().keySet().removeIf(k -> k.startsWith("CLOUDBRIDGE_"));
        long started = System.nanoTime();
        Process p = pb.start();
        boolean done = p.waitFor(90, TimeUnit.SECONDS);
        String out = Files.readString(log);
        Files.delete(log);
        long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - started);
        System.out.println("cloudbridge demo" + (prefix.isEmpty() ? "" : " (as nobody)") + " in " + seconds + " s:\n" + out);
        if (!done) {
            p.destroy();
            throw new AssertionError("the demo did not finish within 90 s:\n" + out);
        }
        assertEquals(0, p.exitValue(), out);
        assertTrue(seconds < 60, "the demo took " + seconds + " s");
        assertTrue(new String(new ProcessBuilder("pgrep", "-f", "cloudbridge-demo").start().getInputStream().readAllBytes()).isBlank(),
                "a demo process is left");
        String folder = out.lines().filter(l -> l.startsWith("logs and configurations were in ")).findFirst().orElse("")
                .replace("logs and configurations were in ", "").replace("; cleaning up", "");
        assertTrue(!folder.isEmpty() && !Files.exists(Path.of(folder)), "its folder is left: " + folder);
        return out;
    }

    private static List<String> rows(String out) {
        return out.lines().filter(l -> l.matches("^(alpha|bravo|charlie) +(alpha|bravo|charlie) .*")).toList();
    }
}
