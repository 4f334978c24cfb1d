package io.cloudbridge.itest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.testing.NotifySocket;
import io.cloudbridge.testing.Requirements;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The systemd units (runtime/src/main/dist/systemd): they verify, their exposure is scored, and
 * each daemon runs as its unit makes it run. systemd is not PID 1 here, so the unit's conditions
 * are made by hand: its own (unprivileged) user, the one capability its unit grants (ambient, as
 * {@code AmbientCapabilities=} makes it, with the bounding set cut to it and no new privileges),
 * the file system read-only but for its state folder (and the node's runtime folder), a private
 * {@code /tmp}, no devices but the node's TUN, its own IPC and process namespaces ({@code bwrap},
 * {@code setpriv}). It tells systemd it is ready on a {@code NOTIFY_SOCKET} the test listens on, and
 * that it is stopping.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SystemdUnitTest {
    private static final Path UNITS = Path.of("..", "runtime", "src", "main", "dist", "systemd").toAbsolutePath().normalize();
    private static final int NOBODY = 65_534;
    private DistributionCopy dist;
    private Path work;

    @BeforeAll
    void copyTheDistribution() throws IOException {
        dist = DistributionCopy.forAnotherUser();
        work = Files.createTempDirectory("cloudbridge-units");
        Files.setPosixFilePermissions(work, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    @AfterAll
    void removeTheCopy() throws IOException {
        dist.close();
        try (var files = Files.walk(work)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    /** A unit as installed, but running this test's copy of the distribution. */
    private Path unit(String name) throws IOException {
        Path out = work.resolve("units").resolve(name);
        Files.createDirectories(out.getParent());
        Files.writeString(out, Files.readString(UNITS.resolve(name)).replace("/usr/lib/cloudbridge", dist.root.toString()));
        return out;
    }

    @Test
    void theUnitsVerifyAndTheirExposureIsWithinItsTarget() throws Exception {
        Path analyze = Requirements.requireTool("systemd-analyze", "apt-get install systemd");
        Matcher version = Pattern.compile("systemd (\\d+)").matcher(Daemon.run(List.of(analyze.toString(), "--version")).out());
        Requirements.require(version.find() && Integer.parseInt(version.group(1)) >= 250, "systemd 250 or newer (security --offline)",
                "a newer distribution");
        Path relay = unit("cloudbridge-relay.service");
        Path node = unit("cloudbridge-node.service");
        Daemon.Result verified = Daemon.run(List.of(analyze.toString(), "verify", relay.toString(), node.toString()));
        assertEquals(0, verified.exit(), verified.out() + verified.err());
        String said = verified.out() + verified.err();
        assertTrue(!said.contains("cloudbridge-relay.service") && !said.contains("cloudbridge-node.service"), "no warning about either unit: " + said);
        // (The bounds are 2.0 and 4.0; these are the scores as built, so that a line lost shows.)
        assertTrue(exposure(analyze, relay) <= 1.8, "the relay's exposure");
        assertTrue(exposure(analyze, node) <= 2.0, "the node's exposure");
    }

    private static double exposure(Path analyze, Path unit) {
        Daemon.Result scored = Daemon.run(List.of(analyze.toString(), "security", "--offline=true", "--no-pager", unit.toString()));
        Matcher m = Pattern.compile("Overall exposure level for \\S+: ([0-9.]+)").matcher(scored.out());
        assertTrue(m.find(), scored.out() + scored.err());
        double score = Double.parseDouble(m.group(1));
        System.out.println(unit.getFileName() + ": exposure " + score);
        return score;
    }

    @Test
    void theRelayAndANodeRunAsTheirUnitsGrantTellingSystemdWhenReadyAndStopping() throws Exception {
        Requirements.requireRoot("to run the daemons as another user with one capability each");
        Requirements.requireTool("bwrap", "apt-get install bubblewrap");
        Requirements.requireTool("setpriv", "apt-get install util-linux");
        Requirements.require(Daemon.run(List.of("bwrap", "--ro-bind", "/", "/", "--unshare-pid", "--dev", "/dev", "--proc", "/proc",
                "true")).exit() == 0, "bwrap able to make mount and process namespaces", "a machine or container that allows them");
        Requirements.require(Files.exists(Path.of("/dev/net/tun")), "/dev/net/tun", "modprobe tun");
        int controlPort = freeLowPort();
        Path relayFolder = folder("relay");
        writeAsNobody(relayFolder.resolve("cloudbridge.yaml"), String.join("\n", "kernel:", "  features: [core, shell, relay]",
                "relay:", "  listenAddress: 127.0.0.1", "  controlPort: " + controlPort, "  jwksPort: 0",
                "listeners:", "  address: 127.0.0.1", "  tlsPort: " + RuntimeTestSupport.freeTcpPort(), "  quicPort: -1", "  stunPort: -1",
                ""));
        String relaySocket = "@cloudbridge-test-relay-" + ProcessHandle.current().pid();
        try (NotifySocket relaySystemd = NotifySocket.bind(relaySocket)) {
            Process relay = asUnit(relayFolder, "relay", "net_bind_service", relaySocket, List.of()).start();
            try {
                String ready = awaitReady(relaySystemd, relay, relayFolder);
                assertTrue(ready.contains("STATUS=running: daemon"), ready);

                // The node, its TUN device and routes made with CAP_NET_ADMIN alone (the 'ip' it runs too).
                String key = asNobody(List.of(dist.script().toString(), "exec", "--config", relayFolder.resolve("cloudbridge.yaml").toString(),
                        "--state", relayFolder.resolve("state").toString(), "relay:key", "create", "--tenant", "units", "--reusable"));
                assertTrue(key.startsWith("cbk_"), key);
                Path nodeFolder = folder("node");
                String device = "cbsd" + (ProcessHandle.current().pid() % 10_000);
                writeAsNobody(nodeFolder.resolve("preauth.key"), key + "\n");
                Files.createDirectories(nodeFolder.resolve("run"));
                Files.setAttribute(nodeFolder.resolve("run"), "unix:uid", NOBODY);
                writeAsNobody(nodeFolder.resolve("cloudbridge.yaml"), String.join("\n", "kernel:", "  features: [core, shell, client]",
                        "wireguard:", "  interfaceName: " + device, "  privateKeyFile: " + nodeFolder.resolve("state").resolve("wg.key"),
                        "  listenAddress: 127.0.0.1", "  listenPort: 0", "  userspace: false", "  uapiDirectory: " + nodeFolder.resolve("run"),
                        "control:", "  relay: 127.0.0.1:" + controlPort, "  hostname: unit-node", "  maxBackoffSeconds: 2",
                        "  preAuthKeyFile: " + nodeFolder.resolve("preauth.key"), ""));
                String nodeSocket = "@cloudbridge-test-node-" + ProcessHandle.current().pid();
                try (NotifySocket nodeSystemd = NotifySocket.bind(nodeSocket)) {
                    Process node = asUnit(nodeFolder, "up", "net_admin", nodeSocket, List.of("--perms", "0755", "--dir", "/dev/net", "--dev-bind", "/dev/net/tun", "/dev/net/tun",
                            "--bind", nodeFolder.resolve("run").toString(), nodeFolder.resolve("run").toString())).start();
                    try {
                        awaitReady(nodeSystemd, node, nodeFolder);
                        Await.until(Duration.ofSeconds(30), "the node's lease on its TUN device " + device + "; log:\n" + log(nodeFolder),
                                () -> Daemon.run(List.of("ip", "-o", "addr", "show", "dev", device)).out().contains("inet 100.64."));
                        try (var sockets = Files.list(nodeFolder.resolve("run"))) {
                            assertTrue(sockets.anyMatch(p -> p.getFileName().toString().startsWith(device)),
                                    "the WireGuard UAPI socket in the runtime folder");
                        }
                        stopAndAwaitStopping(node, nodeSystemd);
                    } finally {
                        node.destroyForcibly();
                    }
                }
                stopAndAwaitStopping(relay, relaySystemd);
            } finally {
                relay.destroyForcibly();
            }
        }
    }

    /** The daemon's command under its unit's conditions: {@code bwrap}, then {@code setpriv} down to nobody with {@code capability}. */
    private ProcessBuilder asUnit(Path folder, String command, String capability, String notifySocket, List<String> more) {
        List<String> cmd = new ArrayList<>(List.of("bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
                "--unshare-pid", "--unshare-ipc", "--die-with-parent",
                // PrivateTmp: a /tmp of its own that anyone may write, as systemd's is.
                "--perms", "1777", "--tmpfs", "/tmp",
                "--ro-bind", dist.root.toString(), dist.root.toString(),
                // ConfigurationDirectory read-only (the whole test folder: the folders bwrap would
                // make on its /tmp to reach a deeper one only root could enter), StateDirectory writable.
                "--ro-bind", work.toString(), work.toString(),
                "--bind", folder.resolve("state").toString(), folder.resolve("state").toString()));
        cmd.addAll(more);
        // Only what setpriv needs to become the user, and the unit's capability.
        for (String cap : List.of("CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP", "CAP_" + capability.toUpperCase())) {
            cmd.addAll(List.of("--cap-add", cap));
        }
        cmd.addAll(List.of("--", "setpriv", "--reuid=" + NOBODY, "--regid=" + NOBODY, "--clear-groups",
                "--inh-caps=-all,+" + capability, "--ambient-caps=-all,+" + capability, "--bounding-set=-all,+" + capability,
                "--no-new-privs", "--", "env", "NOTIFY_SOCKET=" + notifySocket, "CLOUDBRIDGE_START_CACHE=off",
                dist.script().toString(), command, "--config", folder.resolve("cloudbridge.yaml").toString(), "--state",
                folder.resolve("state").toString()));
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(folder.resolve("daemon.log").toFile());
    }

    private String awaitReady(NotifySocket systemd, Process daemon, Path folder) throws Exception {
        String status = systemd.receive(Duration.ofSeconds(60));
        assertNotNull(status, "nothing on NOTIFY_SOCKET within 60 s; alive " + daemon.isAlive() + "; log:\n" + log(folder));
        // STATUS lines while starting, then READY once every bundle has started.
        while (status != null && status.startsWith("STATUS=starting")) {
            status = systemd.receive(Duration.ofSeconds(60));
        }
        assertNotNull(status, "no READY within 60 s of starting; log:\n" + log(folder));
        assertTrue(status.startsWith("READY=1\nSTATUS=running: "), status);
        assertTrue(!log(folder).contains("\"level\":\"ERROR\""), "no error starting under the unit's conditions:\n" + log(folder));
        return status;
    }

    /** SIGTERM to the JVM (as systemd sends it): STOPPING comes first, then the JVM is gone with 143, which the unit calls a success. */
    private static void stopAndAwaitStopping(Process wrapper, NotifySocket systemd) throws Exception {
        ProcessHandle jvm = wrapper.descendants().filter(p -> p.info().commandLine().orElse("").contains("io.cloudbridge.boot.Launcher"))
                .findFirst().orElseThrow();
        jvm.destroy();
        String stopping = systemd.receive(Duration.ofSeconds(10));
        while (stopping != null && !stopping.startsWith("STOPPING=1")) {
            stopping = systemd.receive(Duration.ofSeconds(10));
        }
        assertNotNull(stopping, "STOPPING=1 after SIGTERM");
        assertTrue(wrapper.waitFor(30, TimeUnit.SECONDS), "stopped within the unit's TimeoutStopSec");
        assertEquals(143, wrapper.exitValue(), "the exit status SuccessExitStatus= names");
    }

    private Path folder(String name) throws IOException {
        Path folder = work.resolve(name);
        Files.createDirectories(folder.resolve("state"));
        Files.setAttribute(folder, "unix:uid", NOBODY);
        Files.setAttribute(folder.resolve("state"), "unix:uid", NOBODY);
        Files.setPosixFilePermissions(folder.resolve("state"), java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
        return folder;
    }

    private static void writeAsNobody(Path file, String text) throws IOException {
        RuntimeTestSupport.writeOwnerOnly(file, text);
        Files.setAttribute(file, "unix:uid", NOBODY);
    }

    private String asNobody(List<String> command) {
        List<String> cmd = new ArrayList<>(List.of("setpriv", "--reuid=" + NOBODY, "--regid=" + NOBODY, "--clear-groups"));
        cmd.addAll(command);
        Daemon.Result r = Daemon.run(cmd);
        return r.out().trim();
    }

    private static String log(Path folder) {
        try {
            return Files.readString(folder.resolve("daemon.log"), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    /** A free port below 1024: what CAP_NET_BIND_SERVICE is for. */
    private static int freeLowPort() throws IOException {
        for (int port = 900; port > 600; port--) {
            try (ServerSocket probe = new ServerSocket(port, 1, java.net.InetAddress.getLoopbackAddress())) {
                return port;
            } catch (IOException taken) {
                // the next one
            }
        }
        throw new IOException("no free port between 601 and 900");
    }
}
