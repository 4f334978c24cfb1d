package io.cloudbridge.itest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The assembled distribution, run as an operator runs it. */
class DistributionTest {
    @TempDir
    Path work;

    @Test
    void execWithoutADaemonFailsClearly() throws Exception {
        Daemon none = new Daemon(work);
        Daemon.Result r = none.exec("cb:status");
        assertEquals(3, r.exit(), r.err());
        assertTrue(r.err().contains("no CloudBridge daemon is running"), r.err());
        assertTrue(r.err().contains(none.socket().toString()), r.err());
    }

    @Test
    void statusOfARunningDaemonThenACleanStopOnSigterm() throws Exception {
        try (Daemon d = new Daemon(work).start()) {
            Daemon.Result r = d.exec("cb:status");
            assertEquals(0, r.exit(), r.err());
            assertTrue(r.out().matches("(?s)uptime: +\\d+\\.\\d s\n.*"), r.out());
            assertTrue(r.out().contains("role:            daemon"), r.out());
            assertTrue(r.out().contains("features:        core, shell"), r.out());
            assertTrue(r.out().contains("health:          ok"), r.out());
            assertTrue(r.out().matches("(?s).*bundles: +\\d+ active.*"), r.out());
            assertTrue(r.out().matches("(?s).*components: +\\d+ satisfied.*"), r.out());
            assertFalse(r.out().contains("problem:"), r.out());
            assertEquals("0700", mode(d.state));
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(d.socket())));

            Daemon.Result config = d.exec("cb:config");
            assertEquals(0, config.exit());
            assertTrue(config.out().contains("logging.level"), config.out());
            assertTrue(config.out().contains("[file cloudbridge.yaml:4]"), config.out());
            assertTrue(config.out().contains("shell.idleTimeoutSeconds  900  [default]"), config.out());

            // The interactive shell, its input piped: one session across lines.
            Path input = work.resolve("shell-input.txt");
            Files.writeString(input, "cb:status\nfoo = bar\n$foo\nexit\n");
            Process shell = new ProcessBuilder(Daemon.SCRIPT.toString(), "shell", "--state", d.state.toString())
                    .redirectInput(input.toFile()).redirectErrorStream(true).start();
            String transcript = new String(shell.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            assertTrue(shell.waitFor(20, TimeUnit.SECONDS));
            assertEquals(0, shell.exitValue(), transcript);
            assertTrue(transcript.contains("role:            daemon"), transcript);
            assertTrue(transcript.contains("bar\n"), transcript);

            Daemon.Result failed = d.exec("no:such");
            assertEquals(1, failed.exit());
            assertTrue(failed.err().contains("Command not found: no:such"), failed.err());

            Duration took = d.stop();
            assertTrue(took.toMillis() < 5000, "stopped in " + took.toMillis() + " ms");
            assertFalse(Files.exists(d.socket()), "the socket is removed");
            assertTrue(d.logText().contains("\"message\":\"runtime stopped\""), d.logText());
        }
    }

    @Test
    void aRuntimeFeatureChangeSurvivesARestartUntilReset() throws Exception {
        Daemon d = new Daemon(work).start();
        try {
            assertEquals(0, d.exec("lb").exit());
            assertEquals(0, d.exec("feature:uninstall", "shell").exit());
            assertEquals(1, d.exec("lb").exit(), "lb left with the shell feature");
            d.stop();

            d.start();
            assertEquals(1, d.exec("lb").exit(), "still uninstalled after a restart");
            assertTrue(d.exec("feature:list").out().matches("(?s).*shell +available.*"));
            Daemon.Result reset = d.exec("feature:reset");
            assertEquals(0, reset.exit(), reset.err());
            assertEquals(0, d.exec("lb").exit());
            d.stop();

            d.start();
            assertEquals(0, d.exec("lb").exit(), "reset survives a restart too");
            assertTrue(d.exec("feature:list").out().matches("(?s).*shell +active.*"));
        } finally {
            d.close();
        }
    }

    @Test
    void aSecondDaemonOnTheSameStateIsRefused() throws Exception {
        try (Daemon d = new Daemon(work).start()) {
            Process second = d.launch();
            assertTrue(second.waitFor(20, TimeUnit.SECONDS));
            assertNotEquals(0, second.exitValue());
            assertTrue(d.logText().contains("another daemon is running"), d.logText());
            assertEquals(0, d.exec("cb:status").exit(), "the first one is unharmed");
        }
    }

    @Test
    void aBadConfigurationStopsTheStartWithFileLineAndKey() throws Exception {
        Daemon d = new Daemon(work);
        RuntimeTestSupport.writeOwnerOnly(d.config, "logging:\n  level: info\nkernel: [unclosed\n");
        Process p = d.launch();
        assertTrue(p.waitFor(20, TimeUnit.SECONDS));
        assertEquals(78, p.exitValue());
        assertTrue(d.logText().contains("cloudbridge.yaml:3"), d.logText());

        // Well-formed YAML that a component's schema refuses: the daemon stops rather than run on
        // defaults nobody chose.
        RuntimeTestSupport.writeOwnerOnly(d.config, "metrics:\n  enabled: true\n  port: 70000\n");
        p = d.launch();
        assertTrue(p.waitFor(20, TimeUnit.SECONDS));
        assertEquals(78, p.exitValue());
        assertTrue(d.logText().contains("cloudbridge.yaml:3: metrics.port: '70000' is not accepted"), d.logText());

        RuntimeTestSupport.writeOwnerOnly(d.config, "auth:\n  preAuthKey: tskey-123\n");
        Files.setPosixFilePermissions(d.config, PosixFilePermissions.fromString("rw-r--r--"));
        p = d.launch();
        assertTrue(p.waitFor(20, TimeUnit.SECONDS));
        assertEquals(78, p.exitValue());
        assertTrue(d.logText().contains("readable by group or others"), d.logText());
        assertFalse(d.logText().contains("tskey-123"), "the secret itself is never logged");
    }

    @Test
    void metricsAndHealthEndpoints() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        Daemon daemon = new Daemon(work);
        // The port from the CLI beats the variable, which beats the file; the level from the variable beats the file.
        daemon.env.put("CLOUDBRIDGE_METRICS_PORT", "1");
        daemon.env.put("CLOUDBRIDGE_LOGGING_LEVEL", "warn");
        try (Daemon d = daemon.start("--set", "metrics.enabled=true", "--set", "metrics.port=" + port)) {
            HttpClient http = HttpClient.newHttpClient();
            URI base = URI.create("http://127.0.0.1:" + port);
            HttpResponse<String> metrics = http.send(HttpRequest.newBuilder(base.resolve("/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, metrics.statusCode());
            assertTrue(metrics.headers().firstValue("Content-Type").orElse("").startsWith("text/plain; version=0.0.4"));
            assertTrue(metrics.body().contains("cloudbridge_bundles{role=\"daemon\",state=\"active\"}"), metrics.body());
            assertTrue(metrics.body().contains("jvm_memory_used_bytes"), metrics.body());
            assertTrue(metrics.body().contains("cloudbridge_config_reloads_total"), metrics.body());
            HttpResponse<String> health = http.send(HttpRequest.newBuilder(base.resolve("/health")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, health.statusCode());
            assertEquals("ok\n", health.body());
            assertEquals(405, http.send(HttpRequest.newBuilder(base.resolve("/metrics"))
                    .POST(HttpRequest.BodyPublishers.ofString("x")).build(), HttpResponse.BodyHandlers.ofString()).statusCode());
            assertEquals(404, http.send(HttpRequest.newBuilder(base.resolve("/nope")).build(),
                    HttpResponse.BodyHandlers.ofString()).statusCode());
            String config = d.exec("cb:config").out();
            assertTrue(config.contains("metrics.port              " + port + "  [cli --set metrics.port]"), config);
            assertTrue(config.contains("logging.level             warn  [env CLOUDBRIDGE_LOGGING_LEVEL]"), config);
            assertTrue(config.contains("logging.stdout            true  [default]"), config);

            // Garbage and an oversized header line get an error, and the endpoint keeps serving.
            assertTrue(RawHttp.send(port, "\u0000\u0001garbage\r\n\r\n").startsWith("HTTP/1.1 400"));
            String longHeader = "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + "a".repeat(1_000_000) + "\r\n\r\n";
            String answer = RawHttp.send(port, longHeader);
            assertTrue(answer.isEmpty() || answer.startsWith("HTTP/1.1 4"), answer);
            assertEquals(200, http.send(HttpRequest.newBuilder(base.resolve("/health")).build(),
                    HttpResponse.BodyHandlers.ofString()).statusCode());

            // An address that cannot be bound leaves the endpoint where it was.
            RuntimeTestSupport.writeOwnerOnly(d.config, RuntimeTestSupport.DEFAULT_YAML + "  bindAddress: 192.0.2.1\n");
            Await.until(Duration.ofSeconds(3), "the edit applied", () -> d.logText().contains("cannot listen on 192.0.2.1"));
            assertEquals(200, http.send(HttpRequest.newBuilder(base.resolve("/health")).build(),
                    HttpResponse.BodyHandlers.ofString()).statusCode());

            // A bundle of a configured feature stopped behind the feature manager's back: unhealthy,
            // with the reason, until it runs again.
            // By symbolic name here, by id below: the shell's bundle converter takes both.
            assertEquals(0, d.exec("stop", "org.osgi.util.function").exit());
            String id = bundleId(d, "org.osgi.util.function");
            HttpResponse<String> sick = http.send(HttpRequest.newBuilder(base.resolve("/health")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(503, sick.statusCode());
            assertTrue(sick.body().contains("core: org.osgi.util.function is RESOLVED (not started)"), sick.body());
            assertTrue(d.exec("cb:status").out().contains("health:          degraded"));
            assertEquals(0, d.exec("start", id).exit());
            assertEquals(200, http.send(HttpRequest.newBuilder(base.resolve("/health")).build(),
                    HttpResponse.BodyHandlers.ofString()).statusCode());
        }
    }

    /** The bundle id in {@code lb -s} output. */
    static String bundleId(Daemon d, String symbolicName) {
        for (String line : d.exec("lb", "-s").out().split("\n")) {
            if (line.contains("|" + symbolicName + " (") || line.endsWith("|" + symbolicName)
                    || line.contains("|" + symbolicName + "|")) {
                return line.split("\\|")[0].trim();
            }
        }
        throw new AssertionError(symbolicName + " not in lb -s");
    }

    static String mode(Path p) throws Exception {
        String s = PosixFilePermissions.toString(Files.getPosixFilePermissions(p));
        int v = 0;
        for (char c : s.toCharArray()) {
            v = (v << 1) | (c == '-' ? 0 : 1);
        }
        return String.format("%04o", v);
    }
}
