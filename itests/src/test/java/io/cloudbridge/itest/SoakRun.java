package io.cloudbridge.itest;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The soak run behind {@code bench/soak.sh} (not a test of the ordinary run: its name matches no
 * Surefire pattern, and the script names it). The chaos lab's relay and two nodes under steady
 * load (a TCP transfer and a ping across the overlay) for {@code -Dsoak.minutes} (30 by default),
 * while a third node joins and leaves (map churn: its peers appear and go on both nodes) and the
 * nodes' QUIC transport is swapped out and back. Every minute it records each daemon's RSS, heap
 * after a full GC, threads, file descriptors and native memory (NMT), and fails on growth past the
 * bounds of {@link ChaosResources} after a warm-up of {@code -Dsoak.warmUpMinutes} (5).
 */
class SoakRun {
    @TempDir
    Path work;

    @Test
    void steadyLoadWithChurnAndTransportSwapsGrowsNothing() throws Exception {
        ChaosLab.requireWhatItNeeds();
        int minutes = Integer.getInteger("soak.minutes", 30);
        int warmUp = Integer.getInteger("soak.warmUpMinutes", 5);
        try (ChaosLab lab = new ChaosLab(Files.createDirectories(work.resolve("lab")), "cbs")) {
            lab.up();
            long start = System.nanoTime();
            Map<String, List<String>> curves = new LinkedHashMap<>();
            Map<String, long[]> baseline = new LinkedHashMap<>();
            List<String> violations = new ArrayList<>();
            int joins = 0;
            int swaps = 0;
            int unanswered = 0;
            for (int minute = 0; minute <= minutes; minute++) {
                long minuteEnd = start + Duration.ofMinutes(minute + 1).toNanos();
                for (Daemon d : lab.daemons()) {
                    long[] now = sample(lab.pid(d));
                    String name = lab.name(d);
                    curves.computeIfAbsent(name, k -> new ArrayList<>()).add(String.format(
                            "min %2d: rss=%d KB heapAfterGc=%d KB threads=%d fds=%d native=%d KB metaspace=%d KB code=%d KB",
                            minute, now[0], now[1], now[2], now[3], now[4], now[5], now[6]));
                    if (minute == warmUp) {
                        baseline.put(name, now);
                    } else if (minute > warmUp) {
                        long[] base = baseline.get(name);
                        bound(violations, name, minute, "threads", now[2] - base[2], ChaosResources.MAX_MORE_THREADS);
                        bound(violations, name, minute, "fds", now[3] - base[3], ChaosResources.MAX_MORE_FDS);
                        bound(violations, name, minute, "native KB", now[4] - base[4], ChaosResources.MAX_MORE_NATIVE_KB);
                        bound(violations, name, minute, "metaspace KB", now[5] - base[5], ChaosResources.MAX_MORE_METASPACE_KB);
                        bound(violations, name, minute, "heap after GC KB", now[1] - base[1], 64 * 1024);
                    }
                }
                if (minute == minutes) {
                    break;
                }
                // Churn within the minute: charlie joins, stays a while, leaves and is removed.
                Daemon charlie = lab.joinCharlie();
                Await.until(Duration.ofSeconds(30), "charlie registered", () -> charlie.whoami("status").equals("registered"));
                String id = charlie.whoami("node");
                Await.until(Duration.ofSeconds(10), "alpha sees charlie", () -> lab.admin(lab.alpha, "cb:peers").contains("charlie"));
                charlie.stop();
                if (!id.isEmpty()) {
                    lab.admin(lab.relay, "relay:node delete " + id);
                }
                joins++;
                // Every other minute, alpha's QUIC transport goes and comes back (the overlay moves to WebSocket).
                if (minute % 2 == 1) {
                    lab.admin(lab.alpha, "feature:uninstall transport-quic");
                    lab.admin(lab.alpha, "feature:install transport-quic");
                    swaps++;
                }
                while (System.nanoTime() < minuteEnd) {
                    if (!lab.ping(2)) {
                        unanswered++;
                    }
                    if (!lab.transferRunning()) {
                        lab.startTransfer();
                    }
                    java.util.concurrent.locks.LockSupport.parkNanos(1_000_000_000L);
                }
            }
            StringBuilder report = new StringBuilder("soak: " + minutes + " minutes, " + joins + " joins and leaves, " + swaps
                    + " transport swaps, " + unanswered + " pings unanswered (each a 2 s wait)\n");
            curves.forEach((name, lines) -> {
                report.append(name).append(":\n");
                lines.forEach(l -> report.append("  ").append(l).append('\n'));
            });
            System.out.println(report);
            Files.writeString(Files.createDirectories(Path.of("target")).resolve("soak-report.txt"), report);
            assertTrue(violations.isEmpty(), String.join("\n", violations) + "\n" + report);
        }
    }

    private static void bound(List<String> violations, String name, int minute, String what, long growth, long bound) {
        if (growth > bound) {
            violations.add(name + " minute " + minute + ": " + what + " grew by " + growth + " (bound " + bound + ")");
        }
    }

    /** RSS, heap after a full GC, threads, fds, native, metaspace, code (KB where memory). */
    private static long[] sample(long pid) throws Exception {
        String jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd").toString();
        ChaosLab.shQuiet(jcmd, String.valueOf(pid), "GC.run");
        String heap = ChaosLab.shQuiet(jcmd, String.valueOf(pid), "GC.heap_info");
        long used = 0;
        Matcher m = Pattern.compile("(?m)generation\\s+total \\d+K, used (\\d+)K").matcher(heap);
        while (m.find()) {
            used += Long.parseLong(m.group(1)); // young and old generation (serial GC)
        }
        Path proc = Path.of("/proc", String.valueOf(pid));
        String status = Files.readString(proc.resolve("status"));
        long rss = field(status, "VmRSS");
        long threads = field(status, "Threads");
        long fds;
        try (var list = Files.list(proc.resolve("fd"))) {
            fds = list.count();
        }
        Map<String, Long> nmt = ChaosResources.nmt(pid);
        long metaspace = nmt.getOrDefault("Class", 0L) + nmt.getOrDefault("Metaspace", 0L);
        long code = nmt.getOrDefault("Code", 0L);
        long nativeKb = nmt.getOrDefault("Total", 0L) - nmt.getOrDefault("Java Heap", 0L) - metaspace - code;
        return new long[] {rss, used, threads, fds, nativeKb, metaspace, code};
    }

    private static long field(String status, String name) {
        Matcher m = Pattern.compile("(?m)^" + name + ":\\s+(\\d+)").matcher(status);
        return m.find() ? Long.parseLong(m.group(1)) : -1;
    }
}
