package io.cloudbridge.itest;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The kernel keeps its promises under chaos: a relay and two nodes in the namespace lab, a ping
 * and a TCP transfer across the overlay, and a seeded random sequence of operator actions against
 * all three daemons ({@link ChaosActions}). After every action every daemon is alive and answers
 * {@code cb:status}; the overlay answers within 3 s (plus the reconnect backoff where the action
 * reached the relay's planes, or from the restarted daemon's start); no WireGuard session is reset
 * and no TCP connection broken by an action that does not touch the overlay. Across the run,
 * threads, file descriptors and native memory of each daemon stay within stated bounds after a
 * warm-up, and every ERROR line is on the reviewed list ({@link ChaosErrors}) or fails the run.
 *
 * <p>{@code -Dchaos.actions=N} (200 by default; {@code bench/chaos.sh} runs 2,000) and
 * {@code -Dchaos.seed=S} replay a run; {@code -Dchaos.heapDumps=DIR} leaves each daemon's heap
 * there at the end. Needs root (CI runs as root).
 */
class ChaosTest {
    /** Actions of a daemon's life before its resources are taken as the baseline. */
    static final int WARM_UP = 25;
    static final int SAMPLE_EVERY = 20;
    /** The suite's seed: its 200 actions were run and passed on 2026-12-06. */
    static final long FIXED_SEED = 4;
    /** WireGuard's own time to notice a dead session and make a new one (keepalive + rekey timeouts). */
    static final int OVERLAY_RECOVERY_SECONDS = 15;
    /** How long after its connection broke iperf3 may still be running. */
    static final int TRANSFER_GIVES_UP_SECONDS = 60;

    @TempDir
    Path work;

    @Test
    void operatorActionsNeverTakeADaemonOrTheOverlayDown() throws Exception {
        ChaosLab.requireWhatItNeeds();
        int actions = Integer.getInteger("chaos.actions", 200);
        // A fixed seed by default: the suite must pass or fail the same way each time. New seeds
        // are the long run's business (bench/chaos.sh draws one unless SEED is given).
        long seed = Long.getLong("chaos.seed", FIXED_SEED);
        System.out.println("chaos: seed " + seed + ", " + actions + " actions (replay: -Dchaos.seed=" + seed + ")");
        Path jars = vendorJars();
        long began = System.nanoTime();
        // Its own namespace prefix lets the long run of bench/chaos.sh go on beside the test suite.
        try (ChaosLab lab = new ChaosLab(Files.createDirectories(work.resolve("lab")), System.getProperty("chaos.prefix", "cbc"))) {
            lab.up();
            ChaosActions catalogue = new ChaosActions(lab, new Random(seed), jars);
            ChaosResources resources = new ChaosResources(lab);
            ChaosErrors errors = new ChaosErrors(lab);
            Map<String, Integer> kinds = new HashMap<>();
            int transferRestarts = 0;
            long lastOverlayAction = System.nanoTime();
            List<String> slowest = new ArrayList<>();
            Map<ChaosActions.Kind, List<Long>> recovery = new java.util.EnumMap<>(ChaosActions.Kind.class);
            List<String> missed = new ArrayList<>();
            long slowestMillis = 0;
            for (int n = 1; n <= actions; n++) {
                String where = "action " + n + " of seed " + seed + " (replay: -Dchaos.seed=" + seed + " -Dchaos.actions=" + n + ")";
                Map<Daemon, Map<String, Long>> handshakes = handshakes(lab);
                long start = System.nanoTime();
                ChaosActions.Outcome outcome;
                try {
                    outcome = catalogue.next();
                } catch (AssertionError | Exception e) {
                    throw new AssertionError(where + ": " + e.getMessage() + "\n" + lab.diagnostics(), e);
                }
                // Over when the daemons have put back what the action took down (refresh and
                // update return before the framework has restarted the bundles they touched).
                boolean settled = lab.settle(Duration.ofSeconds(20));
                long acted = System.nanoTime();
                String what = lab.name(outcome.target()) + ": " + outcome.description();
                kinds.merge(outcome.description().replaceAll(" .*", ""), 1, Integer::sum);
                // Every daemon alive and answering.
                for (Daemon d : lab.daemons()) {
                    if (!lab.processOf(d).isAlive()) {
                        throw new AssertionError(where + ", " + what + ": " + lab.name(d) + " died:\n" + ChaosActions.tail(d.logText()));
                    }
                    Await.until(Duration.ofSeconds(10), where + ", " + what + ": " + lab.name(d) + " answering cb:status",
                            () -> lab.adminResponse(d, "cb:status") != null);
                }
                // The overlay answers within 3 s, plus the reconnect backoff where the relay's planes
                // moved. An action that does not touch the overlay must meet that; one that does is
                // given WireGuard's own recovery time (keepalive and rekey timeouts, 15 s) before it
                // fails the run, and its misses of the 3 s target are counted and reported.
                long target = 3 + (outcome.kind() == ChaosActions.Kind.QUIET ? 0 : 2L * ChaosLab.MAX_BACKOFF_SECONDS);
                long limit = outcome.kind() == ChaosActions.Kind.QUIET ? target : Math.max(target, OVERLAY_RECOVERY_SECONDS);
                long deadline = acted + Duration.ofSeconds(limit).toNanos();
                boolean answered = false;
                while (!answered && System.nanoTime() < deadline) {
                    answered = lab.ping(1);
                }
                long back = (System.nanoTime() - acted) / 1_000_000;
                if (!answered) {
                    throw new AssertionError(where + ", " + what + " (" + outcome.result() + "): the overlay did not answer within "
                            + limit + " s\n" + lab.diagnostics());
                }
                recovery.computeIfAbsent(outcome.kind(), k -> new ArrayList<>()).add(back);
                if (back > target * 1000) {
                    missed.add(what + ": " + back + " ms (target " + target + " s)");
                }
                long took = (System.nanoTime() - start) / 1_000_000;
                if (took > slowestMillis) {
                    slowestMillis = took;
                    slowest.add(0, what + " " + took + " ms");
                }
                // No session reset or broken connection by an action that did not reach the overlay.
                if (outcome.kind() != ChaosActions.Kind.OVERLAY) {
                    String reset = resets(lab, handshakes);
                    if (reset != null) {
                        throw new AssertionError(where + ", " + what + ": WireGuard session reset: " + reset + "\n" + lab.diagnostics());
                    }
                }
                if (outcome.kind() == ChaosActions.Kind.OVERLAY) {
                    lastOverlayAction = System.nanoTime();
                }
                if (!lab.transferRunning()) {
                    // iperf3 gives up a while after its connection broke (TCP's retransmissions):
                    // a break belongs to the last action that touched the overlay, if recent.
                    if (System.nanoTime() - lastOverlayAction > Duration.ofSeconds(TRANSFER_GIVES_UP_SECONDS).toNanos()) {
                        throw new AssertionError(where + ", " + what + ": the TCP transfer broke with no action on the overlay in the last "
                                + TRANSFER_GIVES_UP_SECONDS + " s\n" + lab.diagnostics());
                    }
                    lab.startTransfer();
                    transferRestarts++;
                }
                errors.check(where + ", " + what);
                if (n % SAMPLE_EVERY == 0 || n == actions) {
                    resources.sample(n, WARM_UP);
                }
                System.out.println("chaos " + n + ": " + what + " -> " + outcome.result() + " (" + outcome.kind() + ", " + took + " ms"
                        + (settled ? "" : ", a feature still degraded after 20 s") + ")");
            }
            long seconds = Duration.ofNanos(System.nanoTime() - began).toSeconds();
            System.out.println("chaos: " + actions + " actions in " + seconds + " s, seed " + seed + "; by kind " + kinds
                    + "; admin commands during start-up and shutdown: " + catalogue.startUpCommands()
                    + "; TCP transfer restarted after overlay actions: " + transferRestarts
                    + "; expected ERROR lines: " + errors.expectedSeen() + "; slowest: " + slowest.get(0));
            recovery.forEach((kind, times) -> System.out.println("chaos: overlay back after " + kind + " actions: " + percentiles(times)));
            System.out.println("chaos: " + missed.size() + " actions missed the 3 s (+ backoff) target" + (missed.isEmpty() ? ""
                    : ":\n  " + String.join("\n  ", missed)));
            System.out.println(resources.report());
            dumpHeaps(lab);
            resources.assertWithinBounds();
            assertTrue(lab.ping(3), "the overlay answers at the end");
        }
    }

    /**
     * With {@code -Dchaos.heapDumps=DIR}, each daemon's heap at the end of the run (after a full GC),
     * for finding what keeps a resource that the bounds flagged: paths from the GC roots.
     */
    private static void dumpHeaps(ChaosLab lab) throws Exception {
        String dir = System.getProperty("chaos.heapDumps");
        if (dir == null) {
            return;
        }
        Path folder = Files.createDirectories(Path.of(dir));
        String jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd").toString();
        for (Daemon d : lab.daemons()) {
            Path file = folder.resolve(lab.name(d) + ".hprof");
            Files.deleteIfExists(file);
            System.out.println("chaos: " + ChaosLab.shQuiet(jcmd, String.valueOf(lab.pid(d)), "GC.heap_dump", file.toString()).trim());
        }
    }

    private static String percentiles(List<Long> millis) {
        List<Long> sorted = millis.stream().sorted().toList();
        return String.format("%d actions, median %d ms, p90 %d ms, max %d ms", sorted.size(), sorted.get(sorted.size() / 2),
                sorted.get(Math.min(sorted.size() - 1, sorted.size() * 9 / 10)), sorted.get(sorted.size() - 1));
    }

    private static Map<Daemon, Map<String, Long>> handshakes(ChaosLab lab) {
        Map<Daemon, Map<String, Long>> out = new HashMap<>();
        long now = System.currentTimeMillis() / 1000;
        for (Daemon d : List.of(lab.alpha, lab.bravo)) {
            Map<String, Long> at = new HashMap<>();
            lab.handshakeAges(d).forEach((peer, age) -> at.put(peer, now - age));
            out.put(d, at);
        }
        return out;
    }

    /**
     * A new handshake whose predecessor was younger than WireGuard's rekey time (120 s) was not
     * due: something reset the session. Times are to the second, hence the slack.
     */
    private static String resets(ChaosLab lab, Map<Daemon, Map<String, Long>> before) {
        Map<Daemon, Map<String, Long>> after = handshakes(lab);
        for (Daemon d : List.of(lab.alpha, lab.bravo)) {
            for (Map.Entry<String, Long> e : before.get(d).entrySet()) {
                Long now = after.get(d).get(e.getKey());
                if (now != null && now - e.getValue() > 2 && now - e.getValue() < 110) {
                    return lab.name(d) + " made a new handshake with " + e.getKey() + " " + (now - e.getValue())
                            + " s after the previous one";
                }
            }
        }
        return null;
    }

    /** The vendor jars the test drops into deploy/: a good one, a corrupt one, one that throws on activation. */
    private Path vendorJars() throws Exception {
        Path dir = Files.createDirectories(work.resolve("vendor"));
        Files.write(dir.resolve("greeter.jar"), TestBundles.build("com.example.vendor.greeter", "io.cloudbridge.itest.vendor",
                Map.of("Bundle-Version", "1.0.0", "Greeting-Version", "1.0.0")));
        Files.write(dir.resolve("faulty.jar"), TestBundles.build("com.example.vendor.faulty", "io.cloudbridge.itest.faulty",
                Map.of("Bundle-Version", "1.0.0")));
        byte[] corrupt = new byte[4096];
        new Random(7).nextBytes(corrupt);
        corrupt[0] = 'P';
        corrupt[1] = 'K';
        corrupt[2] = 3;
        corrupt[3] = 4;
        Files.write(dir.resolve("corrupt.jar"), corrupt);
        return dir;
    }
}
