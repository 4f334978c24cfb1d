package io.cloudbridge.itest;

import io.cloudbridge.boot.admin.AdminProtocol;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The operator's actions the chaos test draws from, each made real against a daemon of the lab:
 * features, bundles, configuration edits, vendor jars in deploy/, kill -9 and restarts with admin
 * commands during start-up and shutdown. Each says whether it may touch the overlay (a new
 * WireGuard handshake, a broken TCP connection and a slower return are then allowed).
 */
final class ChaosActions {
    /** What one drawn action did. */
    record Outcome(String description, Daemon target, Kind kind, String result) {
    }

    /**
     * How far an action reaches: QUIET must not disturb the overlay at all; PLANE may move or
     * re-open relay sessions or the control plane (reconnect backoff allowed); OVERLAY may reset
     * WireGuard sessions (the engine, the TUN device, a restart).
     */
    enum Kind { QUIET, PLANE, OVERLAY }

    /** Never uninstalled or stopped: the kernel, and the shell the test administers through. */
    private static final Set<String> KEPT_FEATURES = Set.of("core", "shell");
    /** The bundles a node's overlay lives in: anything done to them may reset its sessions. */
    private static final Set<String> NODE_QUIET_BUNDLES = Set.of("io.cloudbridge.ice", "io.cloudbridge.masque",
            "io.cloudbridge.auth.oidc", "io.cloudbridge.transport.quic",
            "io.cloudbridge.transport.websocket", "com.example.cloudbridge.tcp");
    private static final Set<String> TRANSPORT_FEATURES = Set.of("transport-quic", "transport-websocket");

    private final ChaosLab lab;
    private final Random random;
    private final Path vendorJars;
    private final AtomicInteger startUpCommands = new AtomicInteger();

    ChaosActions(ChaosLab lab, Random random, Path vendorJars) {
        this.lab = lab;
        this.random = random;
        this.vendorJars = vendorJars;
    }

    int startUpCommands() {
        return startUpCommands.get();
    }

    Outcome next() throws Exception {
        int roll = random.nextInt(100);
        Daemon d = lab.daemons().get(random.nextInt(3));
        // Restarts are the slowest (a JVM start, a registration, a handshake): few enough that CI's
        // 200 actions keep to its time, enough that every run has several of each.
        if (roll < 25) {
            return feature(d);
        } else if (roll < 50) {
            return bundle(d);
        } else if (roll < 74) {
            return config(d);
        } else if (roll < 94) {
            return deploy(d);
        } else if (roll < 97) {
            return kill(d);
        }
        return restart(d);
    }

    /** Installs or uninstalls a feature; one the overlay needs is put back in the same action. */
    private Outcome feature(Daemon d) {
        Map<String, String> features = lab.features(d);
        List<String> names = new ArrayList<>(features.keySet());
        names.removeAll(KEPT_FEATURES);
        String f = names.get(random.nextInt(names.size()));
        boolean installed = !features.get(f).equals("available");
        boolean keepChange = random.nextInt(10) < 3 && !needed(d, f);
        StringBuilder result = new StringBuilder();
        String first = (installed ? "feature:uninstall " : "feature:install ") + f;
        result.append(tryAdmin(d, first));
        if (!keepChange) {
            result.append("; ").append(tryAdmin(d, (installed ? "feature:install " : "feature:uninstall ") + f));
        }
        return new Outcome(first + (keepChange ? "" : " and back"), d, featureKind(d, f), result.toString());
    }

    /**
     * Whether taking {@code f} away from {@code d} for longer than one action would leave the
     * overlay without a way: the role's own features, or a transport that is the last one the
     * daemon shares with the other side.
     */
    private boolean needed(Daemon d, String f) {
        if (!TRANSPORT_FEATURES.contains(f)) {
            return !Set.of("ice", "masque", "transport-quic", "transport-websocket").contains(f);
        }
        String other = f.equals("transport-quic") ? "transport-websocket" : "transport-quic";
        List<Daemon> peers = d == lab.relay ? List.of(lab.alpha, lab.bravo) : List.of(lab.relay);
        if (!installed(d, other)) {
            return true;
        }
        for (Daemon p : peers) {
            if (!installed(p, other)) {
                return true;
            }
        }
        return false;
    }

    private boolean installed(Daemon d, String feature) {
        return !"available".equals(lab.features(d).getOrDefault(feature, "available"));
    }

    private Kind featureKind(Daemon d, String f) {
        if (Set.of("ice", "masque").contains(f)) {
            return Kind.QUIET;
        }
        if (TRANSPORT_FEATURES.contains(f)) {
            return Kind.PLANE;
        }
        return d == lab.relay ? Kind.PLANE : Kind.OVERLAY;
    }

    /** update, stop then start, or refresh of a bundle outside the kernel and the shell. */
    private Outcome bundle(Daemon d) {
        Set<String> kept = Set.of("org.apache.felix.gogo.command", "org.apache.felix.gogo.runtime", "org.apache.felix.scr",
                "org.apache.felix.configadmin", "org.apache.felix.fileinstall", "org.apache.felix.log", "org.apache.felix.metatype",
                "org.osgi.service.component", "org.osgi.util.function", "org.osgi.util.promise", "io.cloudbridge.api",
                "io.cloudbridge.kernel", "io.cloudbridge.shell", "io.cloudbridge.metrics", "micrometer-core", "micrometer-commons",
                "org.jspecify.jspecify", "org.apache.felix.framework");
        List<String[]> bundles = new ArrayList<>(lab.bundles(d));
        bundles.removeIf(b -> kept.contains(b[1]) || b[0].equals("0"));
        String[] b = bundles.get(random.nextInt(bundles.size()));
        int op = random.nextInt(3);
        String result;
        String what;
        // Whether only the bundle itself restarted: stop and start, or an update nothing was wired to.
        boolean alone = op == 1;
        if (op == 0) {
            what = "update " + b[1];
            int logFrom = d.logText().length();
            result = tryAdmin(d, "update " + b[0]);
            // The kernel refreshes the updated bundle a moment after the command answers: the
            // action ends with that refresh, which restarts whatever is wired to the bundle.
            if (result.startsWith("ok")) {
                String refreshed = "refreshed [" + b[1] + "] after the update";
                String atOnce = "update of [" + b[1] + "] took effect at once";
                try {
                    Await.until(Duration.ofSeconds(20), refreshed, () -> {
                        String log = d.logText();
                        return log.indexOf(refreshed, logFrom) >= 0 || log.indexOf(atOnce, logFrom) >= 0;
                    });
                    alone = d.logText().indexOf(atOnce, logFrom) >= 0;
                } catch (AssertionError e) {
                    result += " (no refresh followed within 20 s)";
                }
            }
        } else if (op == 1) {
            what = "stop and start " + b[1];
            result = tryAdmin(d, "stop " + b[0]) + "; " + tryAdmin(d, "start " + b[0]);
        } else {
            what = "refresh " + b[1];
            result = tryAdmin(d, "refresh " + b[0]);
        }
        Kind kind;
        if (d != lab.relay) {
            // A refresh (and an update the kernel refreshes) also restarts what is wired to the bundle.
            kind = NODE_QUIET_BUNDLES.contains(b[1]) && alone ? Kind.PLANE : Kind.OVERLAY;
        } else {
            kind = Set.of("io.cloudbridge.masque", "io.cloudbridge.wireguard", "io.cloudbridge.auth.oidc").contains(b[1])
                    && alone ? Kind.QUIET : Kind.PLANE;
        }
        return new Outcome(what, d, kind, result);
    }

    /** A valid edit (applied within a second), or an invalid one (refused whole, then put right). */
    private Outcome config(Daemon d) throws Exception {
        int which = random.nextInt(5);
        if (which < 2) {
            if (which == 0) {
                lab.maxSessions = lab.maxSessions == 4 ? 6 : 4;
            } else {
                lab.metrics = !lab.metrics;
            }
            int applied = configCount(d, "applied");
            for (Daemon each : lab.daemons()) {
                RuntimeTestSupport.writeOwnerOnly(each.config, lab.yaml(each));
            }
            Await.until(Duration.ofSeconds(5), lab.name(d) + " applying the edit", () -> configCount(d, "applied") > applied);
            return new Outcome("valid edit: " + (which == 0 ? "shell.maxSessions " + lab.maxSessions : "metrics.enabled " + lab.metrics),
                    d, Kind.QUIET, "applied");
        }
        String good = lab.yaml(d);
        String text = switch (which) {
            case 2 -> good + "kernel: [unclosed\n";
            case 3 -> good.replace("metrics:\n  enabled: " + lab.metrics, "metrics:\n  enabled: true\n  port: 70000");
            default -> good.replaceFirst("  features: \\[core, shell, (\\w+)\\]", "  features: [core, shell, $1, no-such-feature]");
        };
        String what = which == 2 ? "unparsable YAML" : which == 3 ? "metrics.port 70000" : "an unknown feature";
        int refused = configCount(d, "refused");
        RuntimeTestSupport.writeOwnerOnly(d.config, text);
        Await.until(Duration.ofSeconds(5), lab.name(d) + " refusing the edit", () -> configCount(d, "refused") > refused);
        RuntimeTestSupport.writeOwnerOnly(d.config, lab.yaml(d));
        return new Outcome("invalid edit: " + what, d, Kind.QUIET, "refused, then put right");
    }

    private int configCount(Daemon d, String what) {
        AdminProtocol.Response r = lab.adminResponse(d, "cb:status");
        if (r == null || r.status() != AdminProtocol.OK) {
            return -1;
        }
        Matcher m = Pattern.compile("\\(applied (\\d+), refused (\\d+)\\)").matcher(r.output());
        return m.find() ? Integer.parseInt(m.group(what.equals("applied") ? 1 : 2)) : -1;
    }

    /** Drops a vendor jar into deploy/ (valid, corrupt, or one whose component throws), or takes one out. */
    private Outcome deploy(Daemon d) throws Exception {
        Path folder = d == lab.relay ? lab.deploy : d.work.resolve("deploy");
        String[] jars = {"greeter.jar", "corrupt.jar", "faulty.jar"};
        String jar = jars[random.nextInt(jars.length)];
        Path target = folder.resolve(jar);
        if (Files.exists(target)) {
            Files.delete(target);
            return new Outcome("remove deploy/" + jar, d, Kind.QUIET, "removed");
        }
        Path tmp = folder.resolve("." + jar + ".tmp");
        Files.copy(vendorJars.resolve(jar), tmp);
        Files.move(tmp, target, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        return new Outcome("drop deploy/" + jar, d, Kind.QUIET, "dropped");
    }

    /** kill -9, then a start with admin commands sent while it starts. */
    private Outcome kill(Daemon d) throws Exception {
        ChaosLab.sh(false, "kill", "-9", String.valueOf(lab.pid(d)));
        waitForExit(d);
        return new Outcome("kill -9 and restart", d, d == lab.relay ? Kind.PLANE : Kind.OVERLAY, startWithCommands(d));
    }

    /** SIGTERM with admin commands sent while it stops, then a start with commands while it starts. */
    private Outcome restart(Daemon d) throws Exception {
        CommandStorm storm = new CommandStorm(d);
        storm.start();
        ChaosLab.sh(false, "kill", "-TERM", String.valueOf(lab.pid(d)));
        waitForExit(d);
        storm.stopAndJoin();
        // The JVM ends with 128 + SIGTERM once its shutdown hook (the framework's stop) is done.
        if (d.exitValue() != 0 && d.exitValue() != 143) {
            throw new AssertionError(lab.name(d) + " exited with " + d.exitValue() + " on SIGTERM");
        }
        return new Outcome("SIGTERM and restart", d, d == lab.relay ? Kind.PLANE : Kind.OVERLAY,
                storm.sent() + " commands while stopping; " + startWithCommands(d));
    }

    private void waitForExit(Daemon d) throws Exception {
        if (!lab.processOf(d).waitFor(15, TimeUnit.SECONDS)) {
            throw new AssertionError(lab.name(d) + " did not exit");
        }
    }

    private String startWithCommands(Daemon d) throws Exception {
        int startedBefore = count(lab.log(d), "\"message\":\"runtime started");
        lab.launchAndKeep(d);
        CommandStorm storm = new CommandStorm(d);
        storm.start();
        Await.until(Duration.ofSeconds(40), lab.name(d) + " started again", () -> {
            if (!lab.processOf(d).isAlive()) {
                throw new AssertionError(lab.name(d) + " died while starting:\n" + tail(lab.log(d)));
            }
            return count(lab.log(d), "\"message\":\"runtime started") > startedBefore;
        });
        storm.stopAndJoin();
        return storm.sent() + " commands while starting (" + storm.answered() + " answered)";
    }

    /** Admin commands sent one after another until stopped, as an impatient operator would. */
    private final class CommandStorm extends Thread {
        private final Daemon d;
        private volatile boolean running = true;
        private int sent;
        private int answered;

        CommandStorm(Daemon d) {
            super("chaos-commands");
            this.d = d;
            setDaemon(true);
        }

        @Override
        public void run() {
            String toggle = d == lab.relay ? "masque" : "ice";
            boolean hasIt = d != lab.relay;
            List<String> commands = List.of("cb:status", "feature:list", "cb:config", "lb");
            int i = 0;
            while (running) {
                String c;
                if (i % 5 == 4) {
                    c = (hasIt ? "feature:uninstall " : "feature:install ") + toggle;
                } else if (i % 5 == 0 && i > 0) {
                    c = (hasIt ? "feature:install " : "feature:uninstall ") + toggle;
                } else {
                    c = commands.get(i % commands.size());
                }
                AdminProtocol.Response r = lab.adminResponse(d, c);
                sent++;
                startUpCommands.incrementAndGet();
                if (r != null) {
                    answered++;
                } else {
                    java.util.concurrent.locks.LockSupport.parkNanos(20_000_000);
                }
                i++;
            }
            // Leave the toggled feature as the daemon had it.
            if (lab.processOf(d).isAlive()) {
                lab.adminResponse(d, (hasIt ? "feature:install " : "feature:uninstall ") + toggle);
            }
        }

        void stopAndJoin() throws InterruptedException {
            running = false;
            join(30_000);
        }

        int sent() {
            return sent;
        }

        int answered() {
            return answered;
        }
    }

    private String tryAdmin(Daemon d, String command) {
        AdminProtocol.Response r = lab.adminResponse(d, command);
        if (r == null) {
            throw new AssertionError(lab.name(d) + " does not answer '" + command + "'");
        }
        String first = r.output().lines().findFirst().orElse("").trim();
        return (r.status() == AdminProtocol.OK ? "ok" : "refused") + (first.isEmpty() ? "" : " (" + first + ")");
    }

    static int count(String text, String what) {
        int n = 0;
        for (int i = text.indexOf(what); i >= 0; i = text.indexOf(what, i + 1)) {
            n++;
        }
        return n;
    }

    static String tail(String log) {
        List<String> lines = log.lines().toList();
        return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
    }
}
