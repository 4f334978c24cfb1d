package io.cloudbridge.metrics.internal;

import io.cloudbridge.api.runtime.ConfigurationView;
import io.cloudbridge.api.runtime.FeatureInfo;
import io.cloudbridge.api.runtime.FeatureService;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.jvm.DiskSpaceMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;

/**
 * The one metrics registry of the process, registered as Micrometer's {@link MeterRegistry} for
 * every bundle to record into. The component is the registry itself: DS registers the component
 * instance, and Micrometer's registry is a class, not an interface. Starts with JVM figures and the kernel's own: bundles by state,
 * installed and active features, configuration reloads.
 */
@Component(service = MeterRegistry.class, immediate = true, property = {
    // metrics:show, the figures as /metrics serves them, also where the endpoint is off (a bug report carries them)
    "osgi.command.scope=metrics",
    "osgi.command.function=show"
})
public final class PrometheusRegistry extends PrometheusMeterRegistry {
    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    private volatile FeatureService features;
    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    private volatile ConfigurationView configuration;
    /** Where the state folder is, whose disk the metrics watch. */
    @Reference
    private io.cloudbridge.api.runtime.RuntimeEnvironment environment;

    private final MeterRegistry registry = this;
    private JvmGcMetrics gcMetrics;

    public PrometheusRegistry() {
        super(PrometheusConfig.DEFAULT);
    }

    /** {@code metrics:show}: every meter in the Prometheus text format. */
    public String show() {
        return scrape();
    }

    @Activate
    void activate(BundleContext ctx) {
        registry.config().commonTags("role", String.valueOf(ctx.getProperty("cloudbridge.role")));
        new ClassLoaderMetrics().bindTo(registry);
        new JvmMemoryMetrics().bindTo(registry);
        gcMetrics = new JvmGcMetrics();
        gcMetrics.bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
        new FileDescriptorMetrics().bindTo(registry);
        // The state folder's disk (disk_free_bytes, disk_total_bytes): keys, leases, the audit trail and
        // the logs live there, and a full disk stops the daemon from recording any of them.
        new DiskSpaceMetrics(environment.stateFolder().toFile()).bindTo(registry);
        Gauge.builder("process.resident.memory", ResidentMemory::bytes).baseUnit("bytes")
                .description("Resident set size of the process (heap, metaspace, direct buffers, thread stacks, code)")
                .register(registry);
        bindKernelFigures(ctx);
    }

    private void bindKernelFigures(BundleContext ctx) {
        for (int state : new int[] {Bundle.INSTALLED, Bundle.RESOLVED, Bundle.STARTING, Bundle.ACTIVE, Bundle.STOPPING}) {
            Gauge.builder("cloudbridge.bundles", ctx, c -> countBundles(c, state))
                    .tag("state", stateTag(state)).description("Bundles by state").register(registry);
        }
        Gauge.builder("cloudbridge.features.installed", this, r -> r.countFeatures(false))
                .description("Features installed").register(registry);
        Gauge.builder("cloudbridge.features.active", this, r -> r.countFeatures(true))
                .description("Installed features whose every bundle is active").register(registry);
        FunctionCounter.builder("cloudbridge.config.reloads", this,
                r -> r.configuration == null ? 0 : r.configuration.status().accepted())
                .tag("result", "applied").description("Configuration loads").register(registry);
        FunctionCounter.builder("cloudbridge.config.reloads", this,
                r -> r.configuration == null ? 0 : r.configuration.status().rejected())
                .tag("result", "refused").description("Configuration loads").register(registry);
    }

    private static double countBundles(BundleContext ctx, int state) {
        try {
            int n = 0;
            for (Bundle b : ctx.getBundles()) {
                if (b.getState() == state) {
                    n++;
                }
            }
            return n;
        } catch (IllegalStateException stopping) {
            return Double.NaN;
        }
    }

    private double countFeatures(boolean activeOnly) {
        FeatureService f = features;
        if (f == null) {
            return Double.NaN;
        }
        return f.features().stream().filter(FeatureInfo::installed).filter(i -> !activeOnly || i.active()).count();
    }

    private static String stateTag(int state) {
        return switch (state) {
            case Bundle.INSTALLED -> "installed";
            case Bundle.RESOLVED -> "resolved";
            case Bundle.STARTING -> "starting";
            case Bundle.ACTIVE -> "active";
            default -> "stopping";
        };
    }

    @Deactivate
    void deactivate() {
        gcMetrics.close();
        close();
    }
}
