package io.cloudbridge.itest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.cloudbridge.testing.Requirements;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The metrics as an operator's Prometheus sees them: a real Prometheus server scrapes a relay and
 * two nodes (once a second), and its HTTP API answers for every family docs/operations.md lists,
 * from the role that exports it; then every panel of the Grafana dashboard the distribution ships
 * is asked of it, and each must parse and return data.
 */
class MetricsTest {
    @TempDir
    Path work;

    private final HttpClient http = HttpClient.newHttpClient();

    /** Each family with the job (relay, alpha, bravo) that must export it. */
    private static final Map<String, String> FAMILIES = new LinkedHashMap<>();

    static {
        for (String nodeFamily : List.of(
                // per peer, on the path in use
                "cloudbridge_peer_path", "cloudbridge_peer_rtt_seconds", "cloudbridge_peer_jitter_seconds",
                "cloudbridge_peer_loss_ratio", "cloudbridge_peer_sent_bytes_total", "cloudbridge_peer_received_bytes_total",
                "cloudbridge_peer_sent_packets_total", "cloudbridge_peer_received_packets_total",
                "cloudbridge_peer_probes_total", "cloudbridge_overlay_peers",
                // connection success: path and relay-session attempts by outcome, time to establish
                "cloudbridge_path_attempts_total", "cloudbridge_path_establish_seconds_bucket",
                "cloudbridge_relay_session_attempts_total", "cloudbridge_relay_session_establish_seconds_bucket")) {
            FAMILIES.put(nodeFamily, "alpha");
        }
        for (String relayFamily : List.of("cloudbridge_relay_sessions", "cloudbridge_relay_forwarded_packets_total",
                "cloudbridge_relay_forwarded_bytes_total", "cloudbridge_relay_drops_total",
                "cloudbridge_relay_session_accepts_total")) {
            FAMILIES.put(relayFamily, "relay");
        }
        // authentication on both sides, told apart by role
        for (String auth : List.of("cloudbridge_auth_registrations_total", "cloudbridge_auth_token_renewals_total",
                "cloudbridge_auth_key_rotations_total")) {
            FAMILIES.put(auth + "|relay", "relay");
            FAMILIES.put(auth + "|alpha", "alpha");
        }
        // the machine
        for (String system : List.of("process_cpu_usage", "system_cpu_usage", "process_resident_memory_bytes",
                "jvm_memory_used_bytes", "process_files_open_files", "process_files_max_files", "disk_free_bytes",
                "disk_total_bytes")) {
            FAMILIES.put(system + "|relay", "relay");
            FAMILIES.put(system + "|bravo", "bravo");
        }
    }

    @Test
    void prometheusScrapesEveryFamilyAndEveryDashboardPanelAnswers() throws Exception {
        Path prometheusBinary = Requirements.requireTool("prometheus", "apt-get install prometheus");
        int controlPort = RuntimeTestSupport.freeTcpPort();
        int tlsPort = RuntimeTestSupport.freeTcpPort();
        int quicPort = RuntimeTestSupport.freeUdpPort();
        int stunPort = RuntimeTestSupport.freeUdpPort();
        Map<String, Integer> metricsPorts = new LinkedHashMap<>();
        for (String job : List.of("relay", "alpha", "bravo")) {
            metricsPorts.put(job, RuntimeTestSupport.freeTcpPort());
        }
        Daemon relay = new Daemon(Files.createDirectories(work.resolve("relay")));
        relay.command = "relay";
        RuntimeTestSupport.writeOwnerOnly(relay.config, String.join("\n",
                "relay:", "  listenAddress: 127.0.0.1", "  controlPort: " + controlPort, "  jwksPort: 0",
                "listeners:", "  address: 127.0.0.1", "  tlsPort: " + tlsPort, "  quicPort: " + quicPort, "  stunPort: " + stunPort,
                metricsSection(metricsPorts.get("relay")), ""));
        Process prometheus = startPrometheus(prometheusBinary, metricsPorts);
        try (Daemon r = relay.start()) {
            Await.until(Duration.ofSeconds(20), "the relay's control plane", () -> r.logText().contains("relay control service listening"));
            String key = r.exec("relay:key", "create", "--tenant", "metrics", "--reusable").out().trim();
            assertTrue(key.startsWith("cbk_"), key);
            try (Daemon a = node("alpha", controlPort, quicPort, tlsPort, stunPort, key, metricsPorts.get("alpha"));
                 Daemon b = node("bravo", controlPort, quicPort, tlsPort, stunPort, key, metricsPorts.get("bravo"))) {
                Await.until(Duration.ofSeconds(20), "both registered",
                        () -> a.whoami("status").equals("registered") && b.whoami("status").equals("registered"));
                String bravoAddress = b.whoami("address").split("/")[0];
                Await.until(Duration.ofSeconds(20), "alpha pings bravo",
                        () -> a.exec("cb:ping", bravoAddress).exit() == 0);
                // A refused registration, so that the refusal's series has a count to show.
                refusedNode(controlPort, r);

                String api = "http://127.0.0.1:" + prometheusPort + "/api/v1/";
                Await.until(Duration.ofSeconds(30), "Prometheus scraping all three daemons", () -> {
                    JsonArray targets = unchecked(() -> get(api + "targets")).getAsJsonObject("data").getAsJsonArray("activeTargets");
                    int up = 0;
                    for (JsonElement t : targets) {
                        up += t.getAsJsonObject().get("health").getAsString().equals("up") ? 1 : 0;
                    }
                    return up == 3;
                });
                // Measured figures, not only series: alpha's probes to bravo answered, through the tunnel.
                Await.until(Duration.ofSeconds(30), "alpha's RTT to bravo in Prometheus",
                        () -> !unchecked(() -> query(api, "cloudbridge_peer_rtt_seconds{job=\"alpha\",peer=\"" + bravoAddress + "\"} > 0")).isEmpty());
                assertEquals("0", value(query(api, "cloudbridge_peer_loss_ratio{job=\"alpha\",peer=\"" + bravoAddress + "\"}")));
                Await.until(Duration.ofSeconds(20), "the relay's refusal counted",
                        () -> !unchecked(() -> query(api, "cloudbridge_auth_registrations_total{job=\"relay\",outcome=\"refused\"} > 0")).isEmpty());
                Await.until(Duration.ofSeconds(20), "a path established on alpha",
                        () -> !unchecked(() -> query(api, "sum(cloudbridge_path_attempts_total{job=\"alpha\",outcome=\"established\"}) > 0")).isEmpty());

                List<String> missing = new ArrayList<>();
                for (Map.Entry<String, String> family : FAMILIES.entrySet()) {
                    String name = family.getKey().split("\\|")[0];
                    if (query(api, name + "{job=\"" + family.getValue() + "\"}").isEmpty()) {
                        missing.add(name + " from " + family.getValue());
                    }
                }
                assertTrue(missing.isEmpty(), "families Prometheus has no series of: " + missing);

                List<String> silentPanels = new ArrayList<>();
                JsonObject dashboard = JsonParser.parseString(Files.readString(
                        RuntimeTestSupport.distribution().resolve("grafana/cloudbridge.json"))).getAsJsonObject();
                int panels = 0;
                for (JsonElement p : dashboard.getAsJsonArray("panels")) {
                    JsonObject panel = p.getAsJsonObject();
                    if (!panel.has("targets")) {
                        continue; // a row
                    }
                    for (JsonElement t : panel.getAsJsonArray("targets")) {
                        String expr = t.getAsJsonObject().get("expr").getAsString();
                        // Grafana's variables, as the dashboard's defaults would set them.
                        String concrete = expr.replace("$__rate_interval", "30s").replace("$job", ".+").replace("$peer", ".+");
                        panels++;
                        if (query(api, concrete).isEmpty()) {
                            silentPanels.add(panel.get("title").getAsString() + ": " + concrete);
                        }
                    }
                }
                assertTrue(panels >= 12, "the dashboard has " + panels + " queries");
                assertTrue(silentPanels.isEmpty(), "dashboard queries without data: " + silentPanels);
            }
        } finally {
            prometheus.destroy();
            prometheus.waitFor();
        }
    }

    private int prometheusPort;

    private Process startPrometheus(Path binary, Map<String, Integer> metricsPorts) throws IOException {
        prometheusPort = RuntimeTestSupport.freeTcpPort();
        StringBuilder config = new StringBuilder("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n");
        metricsPorts.forEach((job, port) -> config.append("  - job_name: ").append(job).append('\n')
                .append("    static_configs:\n      - targets: ['127.0.0.1:").append(port).append("']\n"));
        Path file = work.resolve("prometheus.yml");
        Files.writeString(file, config);
        return new ProcessBuilder(binary.toString(), "--config.file=" + file, "--storage.tsdb.path=" + work.resolve("tsdb"),
                "--web.listen-address=127.0.0.1:" + prometheusPort).redirectErrorStream(true)
                .redirectOutput(work.resolve("prometheus.log").toFile()).start();
    }

    private static String metricsSection(int port) {
        return String.join("\n", "metrics:", "  enabled: true", "  port: " + port);
    }

    private Daemon node(String name, int controlPort, int quicPort, int tlsPort, int stunPort, String key, int metricsPort)
            throws Exception {
        Path dir = work.resolve(name);
        Daemon node = Daemon.node(dir, key);
        String yaml = RuntimeTestSupport.nodeYaml(dir, name, controlPort,
                "  transports: [quic://127.0.0.1:" + quicPort + ", wss://127.0.0.1:" + tlsPort + "]",
                "ice:", "  stunPort: " + stunPort, metricsSection(metricsPort));
        // Probes each second, so that the test need not wait out the default five.
        RuntimeTestSupport.writeOwnerOnly(node.config, yaml.replace("  uapiDirectory: \"\"\n",
                "  uapiDirectory: \"\"\n  probeIntervalSeconds: 1\n"));
        return node.start("--pre-auth-key-file", node.preAuthKeyFile.toString(), "--userspace");
    }

    /** A node with a key the relay never issued: it is refused, and stopped. */
    private void refusedNode(int controlPort, Daemon relay) throws Exception {
        Path dir = work.resolve("refused");
        Daemon node = Daemon.node(dir, "cbk_0123456789ab_" + "Q".repeat(43));
        RuntimeTestSupport.writeOwnerOnly(node.config, RuntimeTestSupport.nodeYaml(dir, "refused", controlPort));
        try (Daemon n = node.start("--pre-auth-key-file", node.preAuthKeyFile.toString(), "--userspace")) {
            Await.until(Duration.ofSeconds(20), "the refusal", () -> relay.logText().contains("control request refused"));
        }
    }

    /** What a call gives, for a condition that cannot throw: its failure as an unchecked one. */
    private static <T> T unchecked(java.util.concurrent.Callable<T> call) {
        try {
            return call.call();
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private JsonArray query(String api, String promql) throws IOException, InterruptedException {
        JsonObject answer = get(api + "query?query=" + URLEncoder.encode(promql, StandardCharsets.UTF_8));
        assertEquals("success", answer.get("status").getAsString(), promql + ": " + answer);
        return answer.getAsJsonObject("data").getAsJsonArray("result");
    }

    private static String value(JsonArray result) {
        assertFalse(result.isEmpty(), "no series");
        return result.get(0).getAsJsonObject().getAsJsonArray("value").get(1).getAsString();
    }

    private JsonObject get(String url) throws IOException, InterruptedException {
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(5)).build(),
                HttpResponse.BodyHandlers.ofString());
        JsonObject body = JsonParser.parseString(response.body()).getAsJsonObject();
        if (response.statusCode() != 200) {
            throw new AssertionError(url + " answered " + response.statusCode() + ": " + body);
        }
        return body;
    }
}
