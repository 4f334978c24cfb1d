package io.cloudbridge.kernel.internal.commands;

import io.cloudbridge.api.runtime.ConfigStatus;
import io.cloudbridge.api.runtime.ConfigValue;
import io.cloudbridge.api.runtime.ConfigurationView;
import io.cloudbridge.api.runtime.FeatureInfo;
import io.cloudbridge.api.runtime.FeatureService;
import io.cloudbridge.boot.RuntimeProperties;
import io.cloudbridge.boot.feature.StartProgress;
import io.cloudbridge.kernel.internal.feature.FeatureManager;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.runtime.ServiceComponentRuntime;
import org.osgi.service.component.runtime.dto.ComponentConfigurationDTO;
import org.osgi.service.component.runtime.dto.ComponentDescriptionDTO;
import org.osgi.service.component.runtime.dto.UnsatisfiedReferenceDTO;

/** {@code cb:status} and {@code cb:config}: what the operator asks first. */
@Component(service = RuntimeCommands.class, property = {
    "osgi.command.scope=cb",
    "osgi.command.function=status",
    "osgi.command.function=config"
})
public final class RuntimeCommands {
    @Reference
    private FeatureService features;
    @Reference
    private ConfigurationView configuration;
    @Reference
    private ServiceComponentRuntime scr;
    /** Where secrets are kept, when the credentials bundle runs. */
    @Reference(cardinality = org.osgi.service.component.annotations.ReferenceCardinality.OPTIONAL,
            policy = org.osgi.service.component.annotations.ReferencePolicy.DYNAMIC,
            policyOption = org.osgi.service.component.annotations.ReferencePolicyOption.GREEDY)
    private volatile io.cloudbridge.api.auth.CredentialStore credentials;
    private BundleContext context;

    @Activate
    void activate(BundleContext ctx) {
        this.context = ctx;
    }

    /** Uptime, role, features, and everything that is not as it should be. */
    public String status() {
        StringBuilder out = new StringBuilder();
        Instant started = Instant.ofEpochMilli(java.lang.management.ManagementFactory.getRuntimeMXBean().getStartTime());
        Duration up = Duration.between(started, Instant.now());
        String role = context.getProperty(RuntimeProperties.ROLE);
        row(out, "uptime", String.format(Locale.ROOT, "%.1f s", up.toMillis() / 1000.0));
        row(out, "role", role == null ? "embedded" : role);

        List<String> active = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        for (FeatureInfo f : features.features()) {
            if (f.installed()) {
                active.add(f.name() + (f.active() ? "" : " (degraded)"));
                f.problems().forEach(p -> problems.add("feature " + f.name() + ": " + p));
            }
        }
        row(out, "features", String.join(", ", active));
        io.cloudbridge.api.auth.CredentialStore store = credentials;
        if (store != null) {
            row(out, "credentials", store.backend());
        }

        int activeBundles = 0;
        int fragments = 0;
        for (Bundle b : context.getBundles()) {
            boolean fragment = b.getHeaders("").get("Fragment-Host") != null;
            if (b.getState() == Bundle.ACTIVE) {
                activeBundles++;
            } else if (fragment && b.getState() == Bundle.RESOLVED) {
                fragments++;
            } else if (problems.stream().noneMatch(p -> p.contains(" " + b.getSymbolicName() + " "))) {
                problems.add("bundle " + b.getSymbolicName() + " is " + FeatureManager.stateName(b.getState()));
            }
        }
        row(out, "bundles", activeBundles + " active" + (fragments > 0 ? ", " + fragments + " fragments" : ""));

        int satisfied = 0;
        java.util.Set<String> unconfigured = new java.util.TreeSet<>();
        List<String> dormant = new ArrayList<>();
        for (ComponentDescriptionDTO description : scr.getComponentDescriptionDTOs()) {
            if (!description.defaultEnabled && !scr.isComponentEnabled(description)) {
                continue; // disabled on purpose
            }
            var configurations = scr.getComponentConfigurationDTOs(description);
            if (configurations.isEmpty()) {
                if ("require".equals(description.configurationPolicy)) {
                    // Off until the operator writes its section (OIDC on a relay without it): a
                    // choice, not a fault.
                    for (String pid : description.configurationPid) {
                        unconfigured.add(pid.startsWith("cloudbridge.") ? pid.substring("cloudbridge.".length()) : pid);
                    }
                } else {
                    problems.add("component " + description.name + " has no configuration (policy "
                            + description.configurationPolicy + ")");
                }
                continue;
            }
            for (ComponentConfigurationDTO c : configurations) {
                switch (c.state) {
                    case ComponentConfigurationDTO.SATISFIED, ComponentConfigurationDTO.ACTIVE -> satisfied++;
                    case ComponentConfigurationDTO.UNSATISFIED_REFERENCE -> {
                        String unseen = invisibleServiceTypes(description, c);
                        if (unseen != null) {
                            // Its bundle cannot even see the service types it waits for: another
                            // role's half of a plugin (a transport's relay-side route on a node).
                            dormant.add(description.name.replaceAll(".*\\.", "") + " (needs " + unseen + ")");
                            continue;
                        }
                        List<String> missing = new ArrayList<>();
                        for (UnsatisfiedReferenceDTO r : c.unsatisfiedReferences) {
                            missing.add(r.name + (r.target == null ? "" : " " + r.target));
                        }
                        problems.add("component " + description.name + " is unsatisfied: missing reference "
                                + String.join(", ", missing));
                    }
                    case ComponentConfigurationDTO.UNSATISFIED_CONFIGURATION ->
                        problems.add("component " + description.name + " is waiting for its configuration");
                    case ComponentConfigurationDTO.FAILED_ACTIVATION ->
                        problems.add("component " + description.name + " failed to activate: " + c.failure);
                    default -> problems.add("component " + description.name + " is in state " + c.state);
                }
            }
        }
        row(out, "components", satisfied + " satisfied");
        if (!dormant.isEmpty()) {
            row(out, "dormant", String.join(", ", dormant));
        }
        if (!unconfigured.isEmpty()) {
            row(out, "not configured", "sections " + String.join(", ", unconfigured) + " (their components are off until set)");
        }

        ConfigStatus cs = configuration.status();
        row(out, "config", cs.file() + " (applied " + cs.accepted() + ", refused " + cs.rejected() + ")");
        cs.lastRejection().ifPresent(r -> row(out, "config refused", r));
        if (!cs.pendingSections().isEmpty()) {
            row(out, "config pending", String.join(", ", cs.pendingSections()) + " (feature not installed)");
        }
        if (StartProgress.starting()) {
            // Bundles the launcher has not reached yet are not problems.
            row(out, "health", "starting");
            return out.toString();
        }
        row(out, "health", problems.isEmpty() ? "ok" : "degraded");
        for (String p : problems) {
            row(out, "problem", p);
        }
        return out.toString();
    }

    /**
     * The packages of service types a component provides or misses that its bundle cannot load
     * (an optional import that nothing installed exports), or null when all are visible: then the
     * missing service is a real problem. Such a component is another role's half of a plugin (a
     * transport's relay-side route on a node) and cannot run here until that package comes.
     */
    private String invisibleServiceTypes(ComponentDescriptionDTO description, ComponentConfigurationDTO c) {
        Bundle bundle = context.getBundle(description.bundle.id);
        if (bundle == null) {
            return null;
        }
        java.util.Set<String> packages = new java.util.TreeSet<>();
        List<String> types = new ArrayList<>(List.of(description.serviceInterfaces));
        for (UnsatisfiedReferenceDTO missing : c.unsatisfiedReferences) {
            for (org.osgi.service.component.runtime.dto.ReferenceDTO r : description.references) {
                if (r.name.equals(missing.name)) {
                    types.add(r.interfaceName);
                }
            }
        }
        for (String type : types) {
            try {
                bundle.loadClass(type);
            } catch (ClassNotFoundException | NoClassDefFoundError e) {
                int dot = type.lastIndexOf('.');
                packages.add(dot < 0 ? type : type.substring(0, dot));
            }
        }
        return packages.isEmpty() ? null : String.join(", ", packages);
    }

    /** The effective configuration, secrets masked, with the origin of each value. */
    public String config() {
        StringBuilder out = new StringBuilder();
        List<ConfigValue> values = configuration.effective();
        int width = 0;
        for (ConfigValue v : values) {
            width = Math.max(width, v.section().length() + 1 + v.key().length());
        }
        for (ConfigValue v : values) {
            String name = v.section() + "." + v.key();
            out.append(name).append(" ".repeat(width - name.length() + 2)).append(v.value())
                    .append("  [").append(v.origin());
            if (!v.where().isEmpty()) {
                out.append(' ').append(v.where());
            }
            out.append("]\n");
        }
        return out.toString();
    }

    private static void row(StringBuilder out, String name, String value) {
        out.append(name).append(':').append(" ".repeat(Math.max(1, 16 - name.length()))).append(value).append('\n');
    }
}
