package io.cloudbridge.wireguard.internal.device;

import io.cloudbridge.testing.Requirements;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

/**
 * A network namespace joined to this one by a veth pair, with wireguard-go (from the distribution's
 * packages) running inside it. Needs root; CI runs as root, so there it must not be skipped.
 */
final class NamespaceLab implements AutoCloseable {
    final String namespace;
    final String hostVeth;
    final String labVeth;
    final String hostAddress;
    final String labAddress;
    private final List<Process> processes = new ArrayList<>();

    NamespaceLab(String name, String hostAddress, String labAddress) throws Exception {
        requireRootAndTools();
        this.namespace = name;
        this.hostVeth = name + "h";
        this.labVeth = name + "n";
        this.hostAddress = hostAddress;
        this.labAddress = labAddress;
        run(false, "ip", "netns", "del", namespace);
        run(false, "ip", "link", "del", hostVeth);
        run(true, "ip", "netns", "add", namespace);
        run(true, "ip", "link", "add", hostVeth, "type", "veth", "peer", "name", labVeth);
        run(true, "ip", "link", "set", labVeth, "netns", namespace);
        run(true, "ip", "addr", "add", hostAddress + "/24", "dev", hostVeth);
        run(true, "ip", "link", "set", hostVeth, "up");
        run(true, "ip", "-n", namespace, "addr", "add", labAddress + "/24", "dev", labVeth);
        run(true, "ip", "-n", namespace, "link", "set", labVeth, "up");
        run(true, "ip", "-n", namespace, "link", "set", "lo", "up");
    }

    static void requireRootAndTools() {
        Requirements.requireRoot("to build network namespaces");
        Requirements.requireTools("apt-get install --no-install-recommends iproute2 wireguard-go wireguard-tools",
                "ip", "wireguard-go", "wg");
    }

    /** Starts wireguard-go in the namespace with a fresh interface, waiting for its UAPI socket. */
    void startWireGuardGo(String iface) throws Exception {
        ProcessBuilder pb = new ProcessBuilder("ip", "netns", "exec", namespace, "wireguard-go", "-f", iface)
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD);
        pb.environment().put("WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD", "1");
        processes.add(pb.start());
        await(Duration.ofSeconds(10), "wireguard-go's UAPI socket",
                () -> Files.exists(Path.of("/var/run/wireguard/" + iface + ".sock")));
    }

    String inLab(String... command) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", namespace));
        cmd.addAll(List.of(command));
        return run(true, cmd.toArray(new String[0]));
    }

    static String run(boolean check, String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("timed out: " + String.join(" ", command));
        }
        if (check && p.exitValue() != 0) {
            throw new IOException(String.join(" ", command) + " exited " + p.exitValue() + ": " + out);
        }
        return out;
    }

    /** Runs a command and returns its exit status, discarding its output. */
    static int runQuietly(String... command) {
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            return p.waitFor(30, TimeUnit.SECONDS) ? p.exitValue() : -1;
        } catch (IOException e) {
            return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    /** Runs {@code wg} with a key given on standard input (genkey, pubkey). */
    static String wg(String stdin, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("wg"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).start();
        if (stdin != null) {
            p.getOutputStream().write((stdin + "\n").getBytes(StandardCharsets.US_ASCII));
        }
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).trim();
        p.waitFor(10, TimeUnit.SECONDS);
        return out;
    }

    static void await(Duration deadline, String what, BooleanSupplier condition) {
        long end = System.nanoTime() + deadline.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("not within " + deadline.toMillis() + " ms: " + what);
            }
            LockSupport.parkNanos(10_000_000);
        }
    }

    @Override
    public void close() throws Exception {
        for (Process p : processes) {
            p.destroy();
            if (!p.waitFor(5, TimeUnit.SECONDS)) {
                p.destroyForcibly();
            }
        }
        run(false, "ip", "netns", "del", namespace);
        run(false, "ip", "link", "del", hostVeth);
    }
}
