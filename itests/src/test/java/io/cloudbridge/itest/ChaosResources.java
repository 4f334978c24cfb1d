package io.cloudbridge.itest;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Threads, file descriptors and native memory (NMT, after a full GC) of each daemon process
 * through a chaos run, against bounds over its own baseline taken after a warm-up. Metaspace and code cache grow with
 * bundle updates (each update loads the bundle's classes again until the old revision is
 * refreshed away): they get bounds of their own rather than being called flat.
 */
final class ChaosResources {
    /** Above the baseline, per daemon process. */
    static final int MAX_MORE_THREADS = 40;
    static final int MAX_MORE_FDS = 64;
    static final long MAX_MORE_NATIVE_KB = 64 * 1024;
    /**
     * Metaspace after a full GC is not flat: bundles updated, refreshed or reinstalled load their
     * classes again, and a few library statics keep one earlier revision each until their own
     * bundle is refreshed (gRPC's, for instance). It is bounded: 200 actions of seed 4 grew a node's
     * by 21.6 MB over 140 actions, and the 2,000-action run by 14.4 MB at most in any process. The
     * bound leaves room for that, and not for what Netty's and JNA's pinned native revisions once
     * kept (110 MB over 140 actions).
     */
    static final long MAX_MORE_METASPACE_KB = 96 * 1024;
    static final long MAX_MORE_CODE_KB = 48 * 1024;

    record Sample(int action, int threads, int fds, long nativeKb, long metaspaceKb, long codeKb, long heapKb, int loaders,
            Map<String, Long> nmt) {
        @Override
        public String toString() {
            return String.format("#%d threads=%d fds=%d native=%d KB metaspace=%d KB code=%d KB heap=%d KB bundle-loaders=%d", action,
                    threads, fds, nativeKb, metaspaceKb, codeKb, heapKb, loaders);
        }

        /** The native memory categories that grew most since {@code base}: where to look first. */
        String grewMost(Sample base) {
            return nmt.entrySet().stream().filter(e -> !e.getKey().equals("Total"))
                    .map(e -> Map.entry(e.getKey(), e.getValue() - base.nmt.getOrDefault(e.getKey(), 0L)))
                    .sorted(Map.Entry.<String, Long>comparingByValue().reversed()).limit(5)
                    .map(e -> e.getKey() + " +" + e.getValue() + " KB").collect(java.util.stream.Collectors.joining(", "));
        }
    }

    private final ChaosLab lab;
    /** By process: the action at which the test first saw it, its baseline, its samples. */
    private final Map<Long, Integer> firstSeen = new HashMap<>();
    private final Map<Long, Sample> baseline = new LinkedHashMap<>();
    private final Map<Long, Sample> last = new LinkedHashMap<>();
    private final Map<Long, String> names = new HashMap<>();
    private final List<String> violations = new ArrayList<>();

    ChaosResources(ChaosLab lab) {
        this.lab = lab;
    }

    void sample(int action, int warmUp) {
        for (Daemon d : lab.daemons()) {
            long pid = lab.pid(d);
            names.put(pid, lab.name(d));
            int born = firstSeen.computeIfAbsent(pid, p -> action);
            Sample s = of(pid, action);
            if (s == null) {
                continue;
            }
            last.put(pid, s);
            Sample base = baseline.get(pid);
            if (base == null) {
                if (action - born >= warmUp) {
                    baseline.put(pid, s);
                }
                continue;
            }
            check(pid, "threads", s.threads - base.threads, MAX_MORE_THREADS, s);
            check(pid, "file descriptors", s.fds - base.fds, MAX_MORE_FDS, s);
            check(pid, "native memory (KB)", s.nativeKb - base.nativeKb, MAX_MORE_NATIVE_KB, s);
            check(pid, "metaspace (KB)", s.metaspaceKb - base.metaspaceKb, MAX_MORE_METASPACE_KB, s);
            check(pid, "code cache (KB)", s.codeKb - base.codeKb, MAX_MORE_CODE_KB, s);
        }
    }

    private void check(long pid, String what, long growth, long bound, Sample s) {
        if (growth > bound) {
            violations.add(names.get(pid) + " (pid " + pid + "): " + what + " grew by " + growth + " over its baseline "
                    + baseline.get(pid) + ", bound " + bound + ", at " + s + "; grew most: " + s.grewMost(baseline.get(pid)));
        }
    }

    String report() {
        StringBuilder out = new StringBuilder("chaos resources (baseline after " + ChaosTest.WARM_UP + " actions of each process -> last):\n");
        for (Map.Entry<Long, Sample> e : last.entrySet()) {
            out.append("  ").append(names.get(e.getKey())).append(" pid ").append(e.getKey()).append(": ")
                    .append(baseline.containsKey(e.getKey()) ? baseline.get(e.getKey()).toString() : "(no baseline: restarted late)")
                    .append(" -> ").append(e.getValue()).append('\n');
        }
        return out.toString();
    }

    void assertWithinBounds() {
        if (!violations.isEmpty()) {
            throw new AssertionError("resources past their bounds:\n" + String.join("\n", violations) + "\n" + report());
        }
    }

    private static Sample of(long pid, int action) {
        Path proc = Path.of("/proc", String.valueOf(pid));
        try (Stream<Path> fds = Files.list(proc.resolve("fd"))) {
            int fdCount = (int) fds.count();
            Matcher threads = Pattern.compile("(?m)^Threads:\\s+(\\d+)").matcher(Files.readString(proc.resolve("status")));
            if (!threads.find()) {
                return null;
            }
            // After a full collection: metaspace of bundle revisions that a refresh let go is
            // given back only then, and a serial-GC heap can go a long while without one.
            String jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd").toString();
            ChaosLab.shQuiet(jcmd, String.valueOf(pid), "GC.run");
            Map<String, Long> nmt = nmt(pid);
            int loaders = (int) ChaosLab.shQuiet(jcmd, String.valueOf(pid), "VM.classloader_stats").lines()
                    .filter(l -> l.contains("BundleWiringImpl$BundleClassLoader")).count();
            long total = nmt.getOrDefault("Total", 0L);
            long heap = nmt.getOrDefault("Java Heap", 0L);
            long metaspace = nmt.getOrDefault("Class", 0L) + nmt.getOrDefault("Metaspace", 0L);
            long code = nmt.getOrDefault("Code", 0L);
            return new Sample(action, Integer.parseInt(threads.group(1)), fdCount, total - heap - metaspace - code, metaspace, code, heap,
                    loaders, nmt);
        } catch (IOException e) {
            return null; // the process went between the listing and the reading
        }
    }

    /** Committed KB by NMT category, and "Total". */
    static Map<String, Long> nmt(long pid) {
        Map<String, Long> out = new HashMap<>();
        String jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd").toString();
        String text = ChaosLab.shQuiet(jcmd, String.valueOf(pid), "VM.native_memory", "summary");
        Matcher total = Pattern.compile("Total: reserved=\\d+KB, committed=(\\d+)KB").matcher(text);
        if (total.find()) {
            out.put("Total", Long.parseLong(total.group(1)));
        }
        Matcher m = Pattern.compile("(?m)^-\\s+(.+?) \\(reserved=\\d+KB, committed=(\\d+)KB\\)").matcher(text);
        while (m.find()) {
            out.put(m.group(1).trim(), Long.parseLong(m.group(2)));
        }
        return out;
    }
}
