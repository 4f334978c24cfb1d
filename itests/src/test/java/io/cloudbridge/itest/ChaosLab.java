package io.cloudbridge.itest;

import io.cloudbridge.boot.admin.AdminClient;
import io.cloudbridge.boot.admin.AdminProtocol;
import io.cloudbridge.testing.Requirements;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The chaos test's world: the distribution's namespace lab with a relay on the "public" segment,
 * alpha behind an endpoint-independent NAT and bravo behind a symmetric one (no direct path, so the
 * overlay rides the relay), both on real TUN devices; a ping and a TCP transfer (iperf3) run across
 * the overlay the whole time. Its own prefix and relay: the test kills that relay.
 */
final class ChaosLab implements AutoCloseable {
    /** The namespaces' prefix: the chaos test's and the soak run's labs may exist side by side. */
    final String prefix;
    static final Path LAB = Daemon.DIST.resolve("bin/cloudbridge-lab");
    /** How long a node waits at most between reconnections (control plane and transports). */
    static final int MAX_BACKOFF_SECONDS = 2;

    final Path work;
    final Daemon relay;
    final Daemon alpha;
    final Daemon bravo;
    final Path deploy;
    private String preAuthKey;
    private Process pinger;
    private Process iperfServer;
    private Process iperfClient;
    String bravoAddress;

    /** Skips (fails in CI) without root and the lab's tools. */
    static void requireWhatItNeeds() {
        Requirements.requireRoot("the namespace lab (network namespaces, nftables NATs, TUN devices)");
        Requirements.requireTools("apt-get install iproute2 nftables iperf3 iputils-ping", "ip", "nft", "iperf3", "ping");
    }

    ChaosLab(Path work) throws Exception {
        this(work, "cbc");
    }

    ChaosLab(Path work, String prefix) throws Exception {
        this.work = work;
        this.prefix = prefix;
        sh(false, LAB.toString(), prefix, "down");
        sh(true, LAB.toString(), prefix, "public");
        sh(true, LAB.toString(), prefix, "nat", "alpha", "1", "eim-apdf");
        sh(true, LAB.toString(), prefix, "nat", "bravo", "2", "apdm-apdf");
        relay = new Daemon(Files.createDirectories(work.resolve("relay")));
        relay.command = "relay";
        relay.prefix = List.of("ip", "netns", "exec", prefix + "-relay");
        deploy = Files.createDirectories(work.resolve("relay").resolve("deploy"));
        Files.createDirectories(work.resolve("alpha").resolve("deploy"));
        Files.createDirectories(work.resolve("bravo").resolve("deploy"));
        alpha = node("alpha");
        bravo = node("bravo");
        RuntimeTestSupport.writeOwnerOnly(relay.config, relayYaml("info"));
        // Native memory tracking for the leak bounds (summary level costs little).
        for (Daemon d : daemons()) {
            d.env.put("CLOUDBRIDGE_JAVA_OPTS", "-XX:NativeMemoryTracking=summary");
        }
    }

    List<Daemon> daemons() {
        return List.of(relay, alpha, bravo);
    }

    String name(Daemon d) {
        return d == relay ? "relay" : d == alpha ? "alpha" : d == bravo ? "bravo" : "charlie";
    }

    private Daemon charlie;

    /**
     * A third node that joins and leaves (the soak run's map churn): on the public segment in a
     * namespace of its own, made on first use; started here, stopped by the caller.
     */
    Daemon joinCharlie() throws Exception {
        return joinCharlie(preAuthKey);
    }

    /** As {@link #joinCharlie()}, signing in with {@code key} the first time (a key with tags, say). */
    Daemon joinCharlie(String key) throws Exception {
        if (charlie == null) {
            sh(true, LAB.toString(), prefix, "open", "charlie", "3");
            charlie = node("charlie");
            Files.createDirectories(charlie.work.resolve("deploy"));
            RuntimeTestSupport.writeOwnerOnly(charlie.work.resolve("preauth.key"), key + "\n");
            RuntimeTestSupport.writeOwnerOnly(charlie.config, nodeYaml(charlie, "info"));
        }
        start(charlie);
        return charlie;
    }

    /** The pre-auth key the lab's nodes signed in with (tenant "chaos"). */
    String preAuthKey() {
        return preAuthKey;
    }

    /** The two settings the chaos test edits back and forth (valid edits). */
    int maxSessions = 4;
    boolean metrics;

    /** The configuration file of a daemon as the test wants it now. */
    String yaml(Daemon d) {
        return d == relay ? relayYaml("info") : nodeYaml(d, "info");
    }

    String relayYaml(String level) {
        return String.join("\n",
                "kernel:", "  features: [core, shell, relay]", "  deploy: " + deploy, "  deployPollMillis: 200",
                "logging:", "  level: " + level,
                "shell:", "  maxSessions: " + maxSessions,
                "metrics:", "  enabled: " + metrics,
                "relay:", "  listenAddress: 0.0.0.0", "  controlPort: 7443", "  jwksPort: 0",
                "listeners:", "  address: 0.0.0.0", "  tlsPort: 8443", "  quicPort: 8443", "");
    }

    /** Sections a test adds to every node's configuration. */
    String nodeSections = "";

    String nodeYaml(Daemon d, String level) {
        String name = name(d);
        return RuntimeTestSupport.nodeYaml(d.work, name, 7443,
                        "  transports: [quic://198.51.100.1:8443, wss://198.51.100.1:8443]",
                        "kernel:", "  features: [core, shell, client]", "  deploy: " + d.work.resolve("deploy"),
                        "  deployPollMillis: 200",
                        "logging:", "  level: " + level,
                        "shell:", "  maxSessions: " + maxSessions,
                        "metrics:", "  enabled: " + metrics,
                        "quic:", "  minBackoffMillis: 200", "  maxBackoffMillis: " + MAX_BACKOFF_SECONDS * 1000,
                        "  pingMillis: 500", "  deadAfterMillis: 1500",
                        "websocket:", "  minBackoffMillis: 200", "  maxBackoffMillis: " + MAX_BACKOFF_SECONDS * 1000,
                        "  pingMillis: 500", "  deadAfterMillis: 2000",
                        // A transport whose first connection failed is set aside for its own backoff:
                        // bounded too, or a node left with one transport waits up to 30 s for it.
                        "paths:", "  minRetryMillis: 200", "  maxRetryMillis: " + MAX_BACKOFF_SECONDS * 1000)
                // The kernel section above replaces the one the template starts with.
                .replaceFirst("^kernel:\n  features: \\[core, shell, client\\]\n", "")
                .replace("127.0.0.1:7443", "198.51.100.1:7443")
                .replace("  maxBackoffSeconds: 2", "  maxBackoffSeconds: " + MAX_BACKOFF_SECONDS)
                .replace("  listenAddress: 127.0.0.1\n", "  listenAddress: 0.0.0.0\n")
                .replace("  listenPort: 0\n", "  listenPort: 51820\n")
                .replace("  userspace: true\n", "  userspace: false\n") + nodeSections;
    }

    private Daemon node(String name) throws Exception {
        Daemon node = new Daemon(Files.createDirectories(work.resolve(name)));
        node.command = "up";
        node.prefix = List.of("ip", "netns", "exec", prefix + "-" + name);
        return node;
    }

    /** Starts the relay and both nodes, then a ping every 200 ms and a TCP transfer across the overlay. */
    void up() throws Exception {
        startOverlay();
        pinger = new ProcessBuilder("ip", "netns", "exec", prefix + "-alpha", "ping", "-i", "0.2", "-q", bravoAddress)
                .redirectErrorStream(true).redirectOutput(work.resolve("pinger.log").toFile()).start();
        iperfServer = new ProcessBuilder("ip", "netns", "exec", prefix + "-bravo", "iperf3", "-s", "-B", bravoAddress)
                .redirectErrorStream(true).redirectOutput(work.resolve("iperf-server.log").toFile()).start();
        Await.until(Duration.ofSeconds(10), "iperf3 listening",
                () -> shQuiet("ip", "netns", "exec", prefix + "-bravo", "ss", "-tln").contains(bravoAddress + ":5201"));
        startTransfer();
    }

    /** Starts the relay and both nodes and waits until the overlay carries a ping. */
    void startOverlay() throws Exception {
        relay.start();
        Await.until(Duration.ofSeconds(30), "the relay's routes", () -> relay.logText().contains("relay QUIC protocol cloudbridge/1"));
        preAuthKey = admin(relay, "relay:key create --tenant chaos --reusable").trim();
        for (Daemon n : List.of(alpha, bravo)) {
            RuntimeTestSupport.writeOwnerOnly(n.work.resolve("preauth.key"), preAuthKey + "\n");
            RuntimeTestSupport.writeOwnerOnly(n.config, nodeYaml(n, "info"));
            start(n);
        }
        Await.until(Duration.ofSeconds(30), "both registered", () -> alpha.whoami("status").equals("registered")
                && bravo.whoami("status").equals("registered"));
        bravoAddress = bravo.whoami("address").split("/")[0];
        Await.until(Duration.ofSeconds(30), "the overlay answering", () -> ping(1));
    }

    /** Starts {@code d} as its role starts it; a node with its pre-auth key. */
    Process launch(Daemon d) throws IOException {
        return d == relay ? d.launch() : d.launch("--pre-auth-key-file", d.work.resolve("preauth.key").toString());
    }

    Process processOf(Daemon d) {
        return d.process();
    }

    /** Starts {@code d} again without waiting, as the process the lab follows. */
    void launchAndKeep(Daemon d) throws IOException {
        if (d == relay) {
            d.begin();
        } else {
            d.begin("--pre-auth-key-file", d.work.resolve("preauth.key").toString());
        }
    }

    void start(Daemon d) throws Exception {
        if (d == relay) {
            d.start();
        } else {
            d.start("--pre-auth-key-file", d.work.resolve("preauth.key").toString());
        }
    }

    /** A TCP transfer from alpha to bravo at a rate the two cores spare, until stopped. */
    void startTransfer() throws IOException {
        iperfClient = new ProcessBuilder("ip", "netns", "exec", prefix + "-alpha", "iperf3", "-c", bravoAddress, "-t", "86400",
                "-b", "20M", "-i", "0").redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(work.resolve("iperf-client.log").toFile())).start();
    }

    boolean transferRunning() {
        return iperfClient != null && iperfClient.isAlive();
    }

    /** One echo across the overlay, alpha to bravo, within {@code seconds}. */
    boolean ping(int seconds) {
        return shQuiet("ip", "netns", "exec", prefix + "-alpha", "ping", "-c", "1", "-W", String.valueOf(seconds), bravoAddress)
                .contains(" 1 received");
    }

    /** One admin command through the daemon's socket, in this process: its output, or an AssertionError. */
    String admin(Daemon d, String command) {
        AdminProtocol.Response r = adminResponse(d, command);
        if (r == null || r.status() != AdminProtocol.OK) {
            throw new AssertionError(name(d) + ": '" + command + "' failed: " + (r == null ? "no daemon" : r.output()));
        }
        return r.output();
    }

    /** The response, or null when nothing answers on the socket. */
    AdminProtocol.Response adminResponse(Daemon d, String command) {
        try (AdminClient client = AdminClient.connect(d.socket())) {
            return client.execute(command);
        } catch (AdminClient.NoDaemonException e) {
            return null;
        } catch (Exception e) {
            return new AdminProtocol.Response((byte) -1, e.toString());
        }
    }

    /** Features of a daemon by name: "active", "degraded" or "available". */
    Map<String, String> features(Daemon d) {
        Map<String, String> out = new LinkedHashMap<>();
        Matcher m = Pattern.compile("(?m)^(\\S+) +(active|degraded|available) ").matcher(admin(d, "feature:list"));
        while (m.find()) {
            out.put(m.group(1), m.group(2));
        }
        out.remove("FEATURE");
        return out;
    }

    /**
     * Waits until no daemon has a feature installed but not active: Gogo's refresh and update
     * return before the framework has restarted what they touched, and the action is over only
     * when that is back. Returns whether everything settled within {@code limit}.
     */
    boolean settle(Duration limit) {
        long end = System.nanoTime() + limit.toNanos();
        while (System.nanoTime() < end) {
            boolean settled = true;
            for (Daemon d : daemons()) {
                AdminProtocol.Response r = adminResponse(d, "feature:list");
                settled &= r != null && r.status() == AdminProtocol.OK && !r.output().contains(" degraded ");
            }
            if (settled) {
                return true;
            }
            java.util.concurrent.locks.LockSupport.parkNanos(50_000_000);
        }
        return false;
    }

    /** The daemon's bundles: id and symbolic name, fragments left out. */
    List<String[]> bundles(Daemon d) {
        List<String[]> out = new ArrayList<>();
        Matcher m = Pattern.compile("(?m)^\\s*(\\d+)\\|(\\w+)\\s*\\|\\s*\\d+\\|(\\S+)").matcher(admin(d, "lb -s"));
        while (m.find()) {
            if (!m.group(2).equals("Resolved") || !admin(d, "headers " + m.group(1)).contains("Fragment-Host")) {
                out.add(new String[] {m.group(1), m.group(3).replaceAll("\\(.*", "")});
            }
        }
        return out;
    }

    /** Seconds since each peer's latest WireGuard handshake, by peer key, from {@code wg:show}. */
    Map<String, Long> handshakeAges(Daemon node) {
        Map<String, Long> out = new LinkedHashMap<>();
        AdminProtocol.Response r = adminResponse(node, "wg:show");
        if (r == null || r.status() != AdminProtocol.OK) {
            return out;
        }
        Matcher m = Pattern.compile("peer: (\\S+)\\n(?:  .*\\n)*?  latest handshake: (\\d+) seconds ago").matcher(r.output());
        while (m.find()) {
            out.put(m.group(1), Long.parseLong(m.group(2)));
        }
        return out;
    }

    /** The daemon's JVM: the launcher script execs java, under ip netns exec, which execs too. */
    long pid(Daemon d) {
        return d.pid();
    }

    /** What a failure's message shows: each daemon's paths and its last log lines. */
    String diagnostics() {
        StringBuilder out = new StringBuilder();
        // First, as a report may keep only its start: the relay connections' queues (a large Recv-Q
        // is an end that stopped reading) and any daemon thread that is stuck rather than waiting for work.
        out.append(relayConnections()).append(stuckThreads());
        // The nodes first: a failure's story is usually in their paths, and a report may keep only its start.
        List<Daemon> nodesFirst = new ArrayList<>(daemons());
        nodesFirst.remove(relay);
        nodesFirst.add(relay);
        for (Daemon d : nodesFirst) {
            AdminProtocol.Response paths = d == relay ? adminResponse(d, "relay:sessions") : adminResponse(d, "cb:paths");
            if (d != relay) {
                AdminProtocol.Response wg = adminResponse(d, "wg:show");
                out.append("--- ").append(name(d)).append(" wg:show: ").append(wg == null ? "(no answer)" : wg.output()).append('\n');
            }
            out.append("--- ").append(name(d)).append(processOf(d) != null && processOf(d).isAlive() ? "" : " (not running)")
                    .append(": ").append(paths == null ? "(no answer)" : paths.output()).append('\n')
                    .append(compact(ChaosActions.tail(d.logText()))).append('\n');
        }
        return out.toString();
    }

    /** Each namespace's TCP connections to or from the relay's ports, with their queues. */
    private String relayConnections() {
        StringBuilder out = new StringBuilder();
        for (Daemon d : daemons()) {
            String ss = shQuiet("ip", "netns", "exec", prefix + "-" + name(d), "ss", "-tnH", "state", "established",
                    "( sport = :8443 or dport = :8443 or sport = :7443 or dport = :7443 )");
            for (String line : ss.strip().split("\n")) {
                if (!line.isBlank()) {
                    out.append("--- ").append(name(d)).append(" tcp (recv-q send-q local peer): ")
                            .append(line.trim().replaceAll("\\s+", " ")).append('\n');
                }
            }
        }
        return out.toString();
    }

    /**
     * Threads of each daemon that are BLOCKED, or that belong to an event loop and are somewhere
     * other than waiting for I/O or tasks: a loop stuck there stops every connection it carries.
     */
    private String stuckThreads() {
        String jcmd = ProcessHandle.current().info().command().map(java -> Path.of(java).resolveSibling("jcmd").toString())
                .orElse("jcmd");
        StringBuilder out = new StringBuilder();
        for (Daemon d : daemons()) {
            Process process = processOf(d);
            if (process == null || !process.isAlive()) {
                continue;
            }
            for (String thread : shQuiet(jcmd, Long.toString(process.pid()), "Thread.print").split("\n\n")) {
                String stuck = stuckThread(thread);
                if (stuck != null) {
                    out.append("--- ").append(name(d)).append(" thread ").append(stuck).append('\n');
                }
            }
        }
        return out.toString();
    }

    /** One thread of a Thread.print as "name STATE at frame < frame < frame" if it looks stuck, else null. */
    static String stuckThread(String thread) {
        List<String> lines = thread.strip().lines().toList();
        if (lines.size() < 3 || !lines.get(0).startsWith("\"")) {
            return null;
        }
        String name = lines.get(0).substring(1, Math.max(1, lines.get(0).indexOf('"', 1)));
        String state = lines.get(1).replaceFirst("^\\s*java.lang.Thread.State: ", "").trim();
        List<String> frames = lines.stream().filter(l -> l.trim().startsWith("at ")).map(l -> l.trim().substring(3)).toList();
        boolean loop = frames.stream().anyMatch(f -> f.startsWith("io.netty.channel.SingleThreadIoEventLoop.run")
                || f.startsWith("io.netty.util.concurrent.SingleThreadEventExecutor"));
        // A loop waiting for I/O or for tasks is idle; anywhere else (a lock, a future, a long computation) it is
        // busy, and a thread dump taken while the overlay is down shows which.
        boolean idle = frames.stream().limit(8).anyMatch(f -> f.contains("epollWait") || f.contains("epollBusyWait")
                || f.contains(".select") || f.contains("takeTask") || f.contains("io_uring"));
        if (!state.startsWith("BLOCKED") && !(loop && !idle)) {
            return null;
        }
        return name + " " + state + " at " + String.join(" < ", frames.subList(0, Math.min(4, frames.size())));
    }

    private static final java.util.regex.Pattern LOG_LINE = java.util.regex.Pattern.compile(
            "\\{\"time\":\"[0-9-]+T([0-9:.]{12})[0-9]*Z\",\"level\":\"(\\w+)\",\"logger\":\"(?:[\\w.]+\\.)?([\\w$]+)\",\"message\":\"(.*?)\"(,.*)?\\}");

    /** JSON log lines as "time level logger message": a third of the length, so more of them fit a report. */
    static String compact(String lines) {
        StringBuilder out = new StringBuilder();
        for (String line : lines.split("\n")) {
            java.util.regex.Matcher m = LOG_LINE.matcher(line);
            out.append(m.matches() ? m.group(1) + " " + m.group(2) + " " + m.group(3) + " " + m.group(4) : line).append('\n');
        }
        return out.toString();
    }

    String log(Daemon d) {
        return d.logText();
    }

    @Override
    public void close() throws Exception {
        for (Process p : new Process[] {pinger, iperfClient, iperfServer}) {
            if (p != null) {
                p.destroy();
                p.waitFor(5, TimeUnit.SECONDS);
            }
        }
        List<Daemon> all = new ArrayList<>(daemons());
        if (charlie != null) {
            all.add(charlie);
        }
        for (Daemon d : all) {
            try {
                d.close();
            } catch (AssertionError | Exception e) {
                System.out.println("closing " + name(d) + ": " + e.getMessage());
            }
        }
        sh(false, LAB.toString(), prefix, "down");
        // The logs outlive the run's temporary folder, for the seed's post-mortem.
        Path keep = Files.createDirectories(Path.of("target", prefix.equals("cbc") ? "chaos-logs" : prefix + "-logs"));
        for (Daemon d : daemons()) {
            if (Files.exists(d.log)) {
                Files.copy(d.log, keep.resolve(name(d) + ".log"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
        }
    }

    static String sh(boolean check, String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("did not finish: " + String.join(" ", command));
        }
        if (check && p.exitValue() != 0) {
            throw new AssertionError(String.join(" ", command) + " exited " + p.exitValue() + ": " + out);
        }
        return out;
    }

    static String shQuiet(String... command) {
        try {
            return sh(false, command);
        } catch (Exception | AssertionError e) {
            return "";
        }
    }
}
