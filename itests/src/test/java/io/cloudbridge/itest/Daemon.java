package io.cloudbridge.itest;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** The assembled distribution run as a real process: {@code bin/cloudbridge run}, {@code exec}. */
final class Daemon implements AutoCloseable {
    static final Path DIST = RuntimeTestSupport.distribution();
    static final Path SCRIPT = DIST.resolve("bin/cloudbridge");

    final Path work;
    final Path config;
    final Path state;
    final Path log;
    private Process process;
    /** Environment variables for the daemon, beyond the test's own (whose CLOUDBRIDGE_* are dropped). */
    final java.util.Map<String, String> env = new java.util.HashMap<>();
    /** The pre-auth key's file of a node made by {@link #node}; null for others. */
    Path preAuthKeyFile;

    /**
     * A node ({@code up}) in its own folder {@code dir}, with {@code preAuthKey} in an owner-only
     * file beside its configuration; start it with {@code start("--pre-auth-key-file",
     * preAuthKeyFile.toString(), ...)}.
     */
    static Daemon node(Path dir, String preAuthKey) throws IOException {
        Files.createDirectories(dir);
        Path keyFile = dir.resolve("preauth.key");
        RuntimeTestSupport.writeOwnerOnly(keyFile, preAuthKey + "\n");
        Daemon node = new Daemon(dir);
        node.command = "up";
        node.preAuthKeyFile = keyFile;
        return node;
    }

    /** The launcher command that starts it: {@code run}, or a role ({@code relay}, {@code up}). */
    String command = "run";
    /** What the daemon runs under, e.g. {@code ip netns exec NS} to start it in a network namespace. */
    List<String> prefix = List.of();
    /** More options for the launcher command, after those a test passes to start. */
    List<String> upArgs = List.of();

    /** The result of a client command. */
    record Result(int exit, String out, String err) {
    }

    Daemon(Path work) throws IOException {
        this.work = work;
        this.config = work.resolve("cloudbridge.yaml");
        this.state = work.resolve("state");
        this.log = work.resolve("daemon.log");
        if (!Files.exists(config)) {
            RuntimeTestSupport.writeOwnerOnly(config, RuntimeTestSupport.DEFAULT_YAML);
        }
        // Each test's daemon starts once or twice in a fresh state folder: recording a class-data
        // archive at each first stop (0.7 s, 15 MB) would buy nothing. StartUpTest covers it.
        env.put(START_CACHE, "off");
    }

    /** The start script's switch for the daemon's start-up caches. */
    static final String START_CACHE = "CLOUDBRIDGE_START_CACHE";

    Path socket() {
        return state.resolve("admin.sock");
    }

    /** Starts {@code bin/cloudbridge run} and waits until it answers {@code cb:status}. */
    Daemon start(String... extraArgs) throws Exception {
        process = launch(extraArgs);
        Await.until(Duration.ofSeconds(20), "the daemon answering cb:status; log:\n" + logText(), () -> {
            if (!process.isAlive()) {
                throw new AssertionError("the daemon exited with " + process.exitValue() + "; log:\n" + logText());
            }
            return Files.exists(socket()) && exec("cb:status").exit() == 0;
        });
        return this;
    }

    /** Starts it without waiting, as the process that {@link #stop()}, {@link #pid()} and {@link #close()} mean. */
    Process begin(String... extraArgs) throws IOException {
        process = launch(extraArgs);
        return process;
    }

    Process process() {
        return process;
    }

    /** Starts {@code bin/cloudbridge run} without waiting. */
    Process launch(String... extraArgs) throws IOException {
        List<String> cmd = new ArrayList<>(prefix);
        cmd.addAll(List.of(SCRIPT.toString(), command, "--config", config.toString(), "--state", state.toString()));
        cmd.addAll(List.of(extraArgs));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        pb.environment().keySet().removeIf(k -> k.startsWith("CLOUDBRIDGE_"));
        // The machine's proxy settings are not the test's: a test that wants a proxy sets them in env.
        pb.environment().keySet().removeIf(k -> k.equalsIgnoreCase("HTTPS_PROXY") || k.equalsIgnoreCase("NO_PROXY")
                || k.equalsIgnoreCase("HTTP_PROXY"));
        pb.environment().putAll(env);
        return pb.start();
    }

    Result exec(String... command) {
        List<String> cmd = new ArrayList<>(List.of(SCRIPT.toString(), "exec", "--config", config.toString(), "--state",
                state.toString()));
        cmd.addAll(List.of(command));
        return run(cmd);
    }

    static Result run(List<String> cmd) {
        try {
            Path out = Files.createTempFile("cb-out", ".txt");
            Path err = Files.createTempFile("cb-err", ".txt");
            Process p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AssertionError("client did not finish: " + cmd);
            }
            Result r = new Result(p.exitValue(), Files.readString(out), Files.readString(err));
            Files.delete(out);
            Files.delete(err);
            return r;
        } catch (IOException e) {
            throw new AssertionError(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    /** Sends SIGTERM and returns how long the daemon took to exit. */
    Duration stop() throws InterruptedException {
        long start = System.nanoTime();
        process.destroy(); // SIGTERM
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new AssertionError("the daemon ignored SIGTERM; log:\n" + logText());
        }
        return Duration.ofNanos(System.nanoTime() - start);
    }

    /**
     * Waits until each of two registered nodes has the other as a WireGuard peer. Both ways: a
     * handshake from a node its peer does not know yet is dropped, and retried only 5 s later.
     */
    static void awaitEachOthersPeer(Daemon a, Daemon b, java.time.Duration within) {
        String addressA = a.whoami("address").split("/")[0];
        String addressB = b.whoami("address").split("/")[0];
        Await.until(within, "each has the other as a peer", () -> a.exec("wg:show").out().contains(addressB + "/32")
                && b.exec("wg:show").out().contains(addressA + "/32"));
    }

    /** A line of {@code cb:whoami} ("status", "tenant", ...), empty when absent. */
    String whoami(String field) {
        for (String line : exec("cb:whoami").out().split("\n")) {
            if (line.startsWith(field + ":")) {
                return line.substring(field.length() + 1).trim();
            }
        }
        return "";
    }

    /** The daemon's process id (the launcher script execs the JVM). */
    long pid() {
        return process.pid();
    }

    int exitValue() {
        return process.exitValue();
    }

    String logText() {
        try {
            return Files.exists(log) ? Files.readString(log, StandardCharsets.UTF_8) : "";
        } catch (IOException e) {
            return e.toString();
        }
    }

    @Override
    public void close() throws InterruptedException {
        if (process != null && process.isAlive()) {
            stop();
        }
    }
}
