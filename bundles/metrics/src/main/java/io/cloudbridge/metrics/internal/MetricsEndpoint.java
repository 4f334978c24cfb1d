package io.cloudbridge.metrics.internal;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.cloudbridge.api.runtime.FeatureService;
import io.cloudbridge.api.runtime.HealthReport;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Modified;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;
import org.osgi.service.metatype.annotations.Designate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code GET /metrics} (Prometheus text format) and {@code GET /health} (200 when every installed
 * feature is active, 503 with the reasons when not) on a local HTTP port. Off by default.
 */
@Component(configurationPid = "cloudbridge.metrics", immediate = true, service = MetricsEndpoint.class)
@Designate(ocd = MetricsConfig.class)
public final class MetricsEndpoint {
    private static final Logger LOG = LoggerFactory.getLogger(MetricsEndpoint.class);
    private static final String TEXT_FORMAT = "text/plain; version=0.0.4; charset=utf-8";

    @Reference
    private MeterRegistry registry;
    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    private volatile FeatureService features;

    private Listener listener;
    private MetricsConfig current;

    @Activate
    void activate(MetricsConfig config) {
        apply(config);
    }

    @Modified
    void modified(MetricsConfig config) {
        apply(config);
    }

    /** A listening server and the thread that serves it. */
    private record Listener(HttpServer server, ExecutorService executor) {
        void close() {
            server.stop(0);
            executor.shutdownNow();
        }
    }

    /**
     * Serves on the new address before letting go of the old one: a new address that cannot be
     * bound (taken, not local) leaves the endpoint where it was, rather than dark.
     */
    private synchronized void apply(MetricsConfig config) {
        if (current != null && current.enabled() == config.enabled() && current.port() == config.port()
                && current.bindAddress().equals(config.bindAddress())) {
            return;
        }
        if (!config.enabled()) {
            stop();
            current = config;
            LOG.info("metrics endpoint off");
            return;
        }
        Listener next;
        try {
            next = open(config);
        } catch (java.net.BindException taken) {
            if (listener == null || port() != config.port()) {
                refuse(config, taken);
                return;
            }
            // Perhaps taken by ourselves: another address on the port we hold. Let go and retry,
            // and come back on the old address if the new one still fails.
            MetricsConfig previous = current;
            stop();
            try {
                next = open(config);
            } catch (IOException stillFails) {
                refuse(config, stillFails);
                try {
                    listener = open(previous);
                } catch (IOException lost) {
                    LOG.error("metrics endpoint cannot return to {}:{} ({}); it is off", previous.bindAddress(),
                            previous.port(), lost.toString());
                    current = null;
                }
                return;
            }
        } catch (IOException e) {
            refuse(config, e);
            return;
        }
        stop();
        listener = next;
        current = config;
        LOG.info("metrics endpoint on http://{}:{}/metrics", config.bindAddress(), port());
    }

    private void refuse(MetricsConfig config, IOException why) {
        LOG.error("metrics endpoint cannot listen on {}:{} ({}); {}", config.bindAddress(), config.port(), why,
                listener == null ? "it stays off" : "it stays on port " + port());
    }

    private Listener open(MetricsConfig config) throws IOException {
        InetSocketAddress address = new InetSocketAddress(InetAddress.getByName(config.bindAddress()), config.port());
        HttpServer server = HttpServer.create(address, 16);
        ExecutorService executor = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "cloudbridge-metrics-http");
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(executor);
        server.createContext("/metrics", this::metrics);
        server.createContext("/health", this::health);
        server.createContext("/", exchange -> respond(exchange, 404, "not found: try /metrics or /health\n"));
        server.start();
        return new Listener(server, executor);
    }

    /** The bound port (for tests and status). */
    public synchronized int port() {
        return listener == null ? -1 : listener.server().getAddress().getPort();
    }

    @Deactivate
    synchronized void stop() {
        if (listener != null) {
            listener.close();
            listener = null;
        }
    }

    private void metrics(HttpExchange exchange) throws IOException {
        if (!readOnly(exchange)) {
            return;
        }
        if (!(registry instanceof PrometheusMeterRegistry prometheus)) {
            respond(exchange, 503, "the metrics registry is not a Prometheus registry\n");
            return;
        }
        exchange.getResponseHeaders().set("Content-Type", TEXT_FORMAT);
        respond(exchange, 200, prometheus.scrape());
    }

    private void health(HttpExchange exchange) throws IOException {
        if (!readOnly(exchange)) {
            return;
        }
        FeatureService f = features;
        if (f == null) {
            respond(exchange, 503, "unhealthy: the feature service is not available\n");
            return;
        }
        HealthReport report = f.health();
        if (report.healthy()) {
            respond(exchange, 200, "ok\n");
        } else {
            respond(exchange, 503, "unhealthy:\n" + String.join("\n", report.problems()) + "\n");
        }
    }

    private static boolean readOnly(HttpExchange exchange) throws IOException {
        String method = exchange.getRequestMethod();
        if (!method.equals("GET") && !method.equals("HEAD")) {
            exchange.getResponseHeaders().set("Allow", "GET, HEAD");
            respond(exchange, 405, "method not allowed\n");
            return false;
        }
        return true;
    }

    private static void respond(HttpExchange exchange, int status, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        if (!exchange.getResponseHeaders().containsKey("Content-Type")) {
            exchange.getResponseHeaders().set("Content-Type", "text/plain; charset=utf-8");
        }
        boolean head = exchange.getRequestMethod().equals("HEAD");
        exchange.sendResponseHeaders(status, head ? -1 : bytes.length);
        if (!head) {
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(bytes);
            }
        }
        exchange.close();
    }
}
