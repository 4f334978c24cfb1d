package io.cloudbridge.kernel.internal.feature;

import io.cloudbridge.boot.log.Correlation;
import io.cloudbridge.api.audit.AuditEvent;
import io.cloudbridge.api.audit.AuditTrail;
import io.cloudbridge.api.event.StateChangeEvent;
import io.cloudbridge.api.event.StateChangePublisher;
import io.cloudbridge.api.runtime.FeatureInfo;
import io.cloudbridge.api.runtime.FeatureOperationException;
import io.cloudbridge.api.runtime.FeatureService;
import io.cloudbridge.api.runtime.HealthReport;
import io.cloudbridge.boot.RuntimeProperties;
import io.cloudbridge.boot.feature.BundleJar;
import io.cloudbridge.boot.feature.FeatureCatalog;
import io.cloudbridge.boot.feature.FeatureDefinition;
import io.cloudbridge.boot.feature.FeatureException;
import io.cloudbridge.boot.feature.FeatureState;
import io.cloudbridge.boot.feature.StartFailures;
import io.cloudbridge.boot.feature.StartProgress;
import io.cloudbridge.api.runtime.ConfigurationView;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.TimeUnit;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleException;
import org.osgi.framework.FrameworkEvent;
import org.osgi.framework.namespace.PackageNamespace;
import org.osgi.framework.wiring.BundleCapability;
import org.osgi.framework.wiring.BundleRequirement;
import org.osgi.framework.wiring.BundleRevision;
import org.osgi.framework.wiring.BundleWiring;
import org.osgi.framework.wiring.FrameworkWiring;
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
 * Installs and uninstalls features while the daemon runs. The features in force are the base
 * features, the configured ones ({@code kernel.features}) and the operator's runtime changes, which
 * are written to the state folder so the next start applies them too.
 *
 * <p>Bundles are matched by symbolic name against the distribution's catalog, so bundles this
 * manager does not own (vendor bundles from {@code deploy/}, test probes) are never touched.
 */
@Component(service = FeatureService.class, configurationPid = "cloudbridge.kernel", immediate = true)
@Designate(ocd = KernelConfig.class)
public final class FeatureManager implements FeatureService {
    private static final Logger LOG = LoggerFactory.getLogger(FeatureManager.class);
    private static final long REFRESH_TIMEOUT_SECONDS = 30;
    private static final long CHANGE_TIMEOUT_SECONDS = 120;
    /** What health says until the launcher has started every bundle of the boot set. */
    public static final String STILL_STARTING = "the runtime is still starting";

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    private volatile StateChangePublisher events;
    /** Feature changes go into the audit trail (the admin command or configuration edit that asked is there too). */
    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    private volatile AuditTrail audit;

    private BundleContext context;
    private FeatureCatalog catalog;
    private Path stateDir;
    private String deployLocationPrefix;
    /** Touched only on the feature thread, after activation. */
    private List<String> configured;
    /** The features in force; written on the feature thread, read anywhere without a lock. */
    private volatile List<String> inForce = List.of();
    /**
     * Every change runs here, one at a time: uninstalling, refreshing and starting bundles can take
     * seconds, and neither ConfigAdmin's event thread nor a reader of {@link #health()} may wait
     * for that. Its thread ends once no change is waiting: bundle code that ran on it (activators,
     * component activation, Netty's thread-local caches) leaves thread-locals whose values hold
     * the classes, and so the class loaders, of bundles uninstalled since; a thread that lived on
     * kept every uninstalled revision of the relay feature's twenty bundles alive.
     */
    private ExecutorService changes;
    /**
     * Mandatory so that this manager activates after the configuration bridge: bundles it starts
     * must find their configuration already in ConfigAdmin.
     */
    @Reference
    private ConfigurationView configuration;

    @Activate
    void activate(BundleContext ctx, KernelConfig config) throws FeatureException {
        this.context = ctx;
        Path home = Path.of(require(ctx, RuntimeProperties.HOME));
        this.stateDir = Path.of(require(ctx, RuntimeProperties.STATE));
        this.catalog = FeatureCatalog.load(home.resolve("features"), home.resolve("bundles"));
        String deploy = ctx.getProperty("felix.fileinstall.dir");
        this.deployLocationPrefix = deploy == null ? null : Path.of(deploy).toAbsolutePath().toUri().toString();
        // What the launcher installed from: its reading of the file, environment and CLI. The
        // component's own configuration is the same unless the bridge refused it at start.
        String booted = ctx.getProperty(RuntimeProperties.CONFIGURED_FEATURES);
        this.configured = booted != null ? List.of(booted.split(",")) : withRoleFeatures(config.features());
        this.changes = new java.util.concurrent.ThreadPoolExecutor(0, 1, 0, TimeUnit.MILLISECONDS,
                new java.util.concurrent.LinkedBlockingQueue<>(), r -> {
                    Thread t = new Thread(r, "cloudbridge-features");
                    t.setDaemon(true);
                    return t;
                });
        // The launcher installed and started these at boot (and recorded any failure): adopt
        // them. Starting bundles from here would activate their components while this one is
        // still activating, which DS reports as a circular reference.
        inForce = catalog.effective(configured, FeatureState.read(stateDir));
    }

    @Deactivate
    void deactivate() {
        changes.shutdownNow();
    }

    /**
     * Runs a change on the feature thread and waits for it. A change asked for while the launcher
     * is still starting the boot set waits until that start is done: uninstalling a bundle the
     * launcher is about to start, or starting one it has not reached, would race it.
     */
    private <T> T change(Callable<T> work) throws FeatureOperationException {
        // On the changes' thread under the caller's flow id (an admin command's): its lines, the
        // bundles it installs, are that command's.
        String flow = Correlation.current();
        try {
            return changes.submit(() -> {
                try (Correlation.Scope caller = Correlation.open(flow)) {
                    awaitStart();
                    if (stopping()) {
                        throw new FeatureOperationException("the daemon is stopping; the feature change was not made");
                    }
                    return work.call();
                }
            }).get(CHANGE_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (java.util.concurrent.RejectedExecutionException e) {
            throw new FeatureOperationException("the daemon is stopping; the feature change was not made", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof FeatureOperationException f) {
                throw f;
            }
            throw new FeatureOperationException("the feature change failed: " + e.getCause(), e.getCause());
        } catch (TimeoutException e) {
            throw new FeatureOperationException("the feature change did not finish within " + CHANGE_TIMEOUT_SECONDS
                    + " s; see cb:status", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new FeatureOperationException("interrupted", e);
        }
    }

    /** Whether the framework is on its way down (an admin command can arrive during shutdown). */
    private boolean stopping() {
        try {
            return context.getBundle(0).getState() != Bundle.ACTIVE;
        } catch (IllegalStateException stale) {
            return true;
        }
    }

    /** A failure while the framework stops is the stop's doing, not a fault worth an ERROR line. */
    private void failed(String what, String bsn, Exception e) {
        if (stopping()) {
            LOG.info("{} {} not done: the daemon is stopping", what, bsn);
        } else {
            LOG.error("{} {} failed: {}", what, bsn, e.getMessage());
        }
    }

    private static void awaitStart() throws FeatureOperationException, InterruptedException {
        if (!StartProgress.awaitStarted(Duration.ofSeconds(CHANGE_TIMEOUT_SECONDS))) {
            throw new FeatureOperationException("the runtime is still starting after " + CHANGE_TIMEOUT_SECONDS
                    + " s; the feature change was not made (see cb:status)");
        }
    }

    private static String require(BundleContext ctx, String property) throws FeatureException {
        String value = ctx.getProperty(property);
        if (value == null) {
            throw new FeatureException("the framework property " + property + " is not set; start through the launcher");
        }
        return value;
    }

    /**
     * The features an edit asks for, plus those the command brings ({@code up} brings the client's
     * transports and hole punching), as the launcher counted them at boot. Without them, a kernel
     * configuration applied just after this manager activated (a startup ordering) compared
     * unequal and uninstalled those features while the launcher was still starting their bundles.
     */
    private List<String> withRoleFeatures(String[] features) {
        List<String> out = new ArrayList<>(List.of(features));
        String role = context.getProperty(RuntimeProperties.ROLE_FEATURES);
        if (role != null && !role.isBlank()) {
            for (String f : role.split(",")) {
                if (!out.contains(f)) {
                    out.add(f);
                }
            }
        }
        return List.copyOf(out);
    }

    @Modified
    void modified(KernelConfig config) {
        List<String> newConfigured = withRoleFeatures(config.features());
        // Off ConfigAdmin's event thread: the bridge has already checked the names.
        changes.execute(() -> {
            if (newConfigured.equals(configured)) {
                return;
            }
            try {
                awaitStart();
                List<String> wanted = catalog.effective(newConfigured, FeatureState.read(stateDir));
                configured = newConfigured;
                reconcile(wanted);
                LOG.info("configured features changed to {}; in force: {}", configured, inForce);
            } catch (FeatureException | FeatureOperationException e) {
                LOG.error("the configured features {} cannot be applied: {}", newConfigured, e.getMessage());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
    }

    @Override
    public List<FeatureInfo> features() {
        List<FeatureInfo> out = new ArrayList<>();
        Map<String, Bundle> installed = managedBundles();
        for (FeatureDefinition def : catalog.features().values()) {
            out.add(info(def, installed));
        }
        return out;
    }

    @Override
    public FeatureInfo install(String name) throws FeatureOperationException {
        return change(() -> installNow(name));
    }

    private FeatureInfo installNow(String name) throws FeatureOperationException {
        FeatureDefinition def = definition(name);
        if (inForce.contains(name)) {
            throw new FeatureOperationException("feature '" + name + "' is already installed");
        }
        try {
            String platform = io.cloudbridge.boot.feature.Platform.current();
            java.util.Optional<String> notHere = catalog.notRunningOn(name, platform);
            if (notHere.isPresent()) {
                throw new FeatureOperationException("feature '" + name + "' cannot be installed on " + platform + ": " + notHere.get());
            }
        } catch (FeatureException e) {
            throw new FeatureOperationException("installing '" + name + "' failed: " + e.getMessage(), e);
        }
        try {
            FeatureState state = FeatureState.read(stateDir).withInstalled(name, configured.contains(name));
            reconcile(catalog.effective(configured, state));
            state.write(stateDir);
        } catch (FeatureException | IOException e) {
            throw new FeatureOperationException("installing '" + name + "' failed: " + e.getMessage(), e);
        }
        return info(def, managedBundles());
    }

    @Override
    public FeatureInfo uninstall(String name) throws FeatureOperationException {
        return change(() -> uninstallNow(name));
    }

    private FeatureInfo uninstallNow(String name) throws FeatureOperationException {
        FeatureDefinition def = definition(name);
        if (def.base()) {
            throw new FeatureOperationException("feature '" + name + "' is a base feature and cannot be uninstalled");
        }
        if (!inForce.contains(name)) {
            throw new FeatureOperationException("feature '" + name + "' is not installed");
        }
        for (String other : inForce) {
            if (!other.equals(name) && catalog.features().get(other).requires().contains(name)) {
                throw new FeatureOperationException("feature '" + name + "' is required by installed feature '"
                        + other + "'; uninstall that first");
            }
        }
        try {
            FeatureState state = FeatureState.read(stateDir).withUninstalled(name, configured.contains(name));
            reconcile(catalog.effective(configured, state));
            state.write(stateDir);
        } catch (FeatureException | IOException e) {
            throw new FeatureOperationException("uninstalling '" + name + "' failed: " + e.getMessage(), e);
        }
        return info(def, managedBundles());
    }

    @Override
    public List<FeatureInfo> reset() throws FeatureOperationException {
        return change(() -> {
            try {
                reconcile(catalog.effective(configured, FeatureState.empty()));
                FeatureState.delete(stateDir);
            } catch (FeatureException | IOException e) {
                throw new FeatureOperationException("reset failed: " + e.getMessage(), e);
            }
            return features();
        });
    }

    @Override
    public HealthReport health() {
        if (StartProgress.starting()) {
            return new HealthReport(false, List.of(STILL_STARTING));
        }
        List<String> problems = new ArrayList<>();
        Map<String, Bundle> installed = managedBundles();
        for (String name : inForce) {
            FeatureInfo info = info(catalog.features().get(name), installed);
            info.problems().forEach(p -> problems.add(name + ": " + p));
        }
        return new HealthReport(problems.isEmpty(), problems);
    }

    private FeatureDefinition definition(String name) throws FeatureOperationException {
        try {
            return catalog.feature(name);
        } catch (FeatureException e) {
            throw new FeatureOperationException(e.getMessage(), e);
        }
    }

    private FeatureInfo info(FeatureDefinition def, Map<String, Bundle> installed) {
        boolean isInstalled = inForce.contains(def.name());
        List<String> problems = new ArrayList<>();
        if (isInstalled) {
            for (String bsn : def.bundles()) {
                String problem = problemOf(bsn, installed.get(bsn));
                if (problem != null) {
                    problems.add(problem);
                }
            }
        }
        return new FeatureInfo(def.name(), def.description(), def.base(), isInstalled,
                isInstalled && problems.isEmpty(), def.bundles(), problems);
    }

    /** Why a bundle is not in the state it should be, or {@code null} when it is. */
    String problemOf(String bsn, Bundle bundle) {
        if (bundle == null) {
            return bsn + " is not installed";
        }
        BundleJar jar = catalog.bundles().get(bsn);
        boolean fragment = jar != null && jar.fragment();
        int state = bundle.getState();
        if (fragment ? state == Bundle.RESOLVED || state == Bundle.ACTIVE : state == Bundle.ACTIVE) {
            return null;
        }
        return bsn + " is " + stateName(state) + StartFailures.reason(bsn).map(r -> ": " + r).orElse("");
    }

    /** A bundle state in words, with what it means for an operator. */
    public static String stateName(int state) {
        return switch (state) {
            case Bundle.INSTALLED -> "INSTALLED (unresolved)";
            case Bundle.RESOLVED -> "RESOLVED (not started)";
            case Bundle.STARTING -> "STARTING";
            case Bundle.STOPPING -> "STOPPING";
            case Bundle.ACTIVE -> "ACTIVE";
            case Bundle.UNINSTALLED -> "UNINSTALLED";
            default -> "in state " + state;
        };
    }

    /** Our bundles that are installed now, by symbolic name. */
    private Map<String, Bundle> managedBundles() {
        Map<String, Bundle> out = new HashMap<>();
        for (Bundle b : context.getBundles()) {
            // A jar an operator dropped into deploy/ belongs to FileInstall even if it shares a name
            // with one of ours.
            if (b.getSymbolicName() != null && catalog.bundles().containsKey(b.getSymbolicName())
                    && (deployLocationPrefix == null || !b.getLocation().startsWith(deployLocationPrefix))) {
                out.put(b.getSymbolicName(), b);
            }
        }
        return out;
    }

    /**
     * Brings the installed bundles to exactly those of {@code wanted}: uninstalls the bundles no
     * wanted feature names, refreshes the wiring, installs the missing ones and starts everything.
     */
    private void reconcile(List<String> wanted) throws FeatureException {
        List<BundleJar> wantedJars = catalog.bundlesOf(wanted);
        Set<String> wantedNames = new HashSet<>();
        wantedJars.forEach(j -> wantedNames.add(j.symbolicName()));
        Map<String, Bundle> installed = managedBundles();

        // Newest first, as the framework stops bundles at shutdown: a feature's bundles are installed
        // providers before consumers, so a consumer winds down (closes its devices, its sockets)
        // while what it uses is still running.
        List<Bundle> leaving = new ArrayList<>();
        installed.forEach((name, bundle) -> {
            if (!wantedNames.contains(name)) {
                leaving.add(bundle);
            }
        });
        leaving.sort(java.util.Comparator.comparingLong(Bundle::getBundleId).reversed());
        List<Bundle> removed = new ArrayList<>();
        for (Bundle bundle : leaving) {
            try {
                bundle.uninstall();
                removed.add(bundle);
                StartFailures.clear(bundle.getSymbolicName());
            } catch (BundleException | IllegalStateException ex) {
                failed("uninstalling", bundle.getSymbolicName(), ex);
            }
        }
        if (!removed.isEmpty()) {
            refresh(removed);
        }
        Map<String, Bundle> toStart = new LinkedHashMap<>();
        List<Bundle> added = new ArrayList<>();
        for (BundleJar jar : wantedJars) {
            Bundle b = installed.get(jar.symbolicName());
            if (b == null) {
                try {
                    b = context.installBundle(jar.location());
                    added.add(b);
                } catch (BundleException | IllegalStateException ex) {
                    StartFailures.record(jar.symbolicName(), ex.getMessage());
                    failed("installing", jar.symbolicName(), ex);
                    continue;
                }
            }
            if (!jar.fragment()) {
                toStart.put(jar.symbolicName(), b);
            }
        }
        if (!added.isEmpty()) {
            // Resolved bundles show their configuration schemas: have the bridge check and push
            // their sections now, so their components start once, configured, not on defaults.
            context.getBundle(0).adapt(FrameworkWiring.class).resolveBundles(added);
            List<Bundle> rewire = optionallyWiredTo(added);
            if (!rewire.isEmpty()) {
                LOG.info("refreshing {} to wire their optional imports to the new bundles", symbolicNames(rewire));
                refresh(rewire);
            }
            configuration.reload();
        }
        for (Map.Entry<String, Bundle> e : toStart.entrySet()) {
            if (e.getValue().getState() == Bundle.ACTIVE) {
                continue;
            }
            try {
                e.getValue().start();
                StartFailures.clear(e.getKey());
            } catch (BundleException | IllegalStateException ex) {
                StartFailures.record(e.getKey(), ex.getMessage());
                failed("starting", e.getKey(), ex);
            }
        }
        List<String> before = inForce;
        inForce = List.copyOf(wanted);
        announce(before, inForce);
    }

    private void announce(List<String> before, List<String> after) {
        StateChangePublisher publisher = events;
        AuditTrail trail = audit;
        Instant now = Instant.now();
        if (trail != null) {
            for (String name : after) {
                if (!before.contains(name)) {
                    trail.record(new AuditEvent("feature", "installed", "daemon", AuditEvent.OK,
                            Map.of("feature", name, "inForce", String.join(",", after))));
                }
            }
            for (String name : before) {
                if (!after.contains(name)) {
                    trail.record(new AuditEvent("feature", "uninstalled", "daemon", AuditEvent.OK,
                            Map.of("feature", name, "inForce", String.join(",", after))));
                }
            }
        }
        for (String name : after) {
            if (!before.contains(name)) {
                LOG.info("feature {} installed", name);
                if (publisher != null) {
                    publisher.publish(new StateChangeEvent("feature", name, "uninstalled", "installed", "", now));
                }
            }
        }
        for (String name : before) {
            if (!after.contains(name)) {
                LOG.info("feature {} uninstalled", name);
                if (publisher != null) {
                    publisher.publish(new StateChangeEvent("feature", name, "installed", "uninstalled", "", now));
                }
            }
        }
    }

    /**
     * Bundles already resolved whose optional package imports went unwired and that the new
     * bundles now export. Left alone, their classes that need those packages fail to load once a
     * component of theirs becomes satisfied (a transport's relay-side route, on a node that the
     * relay feature was installed on: NoClassDefFoundError in the framework's event dispatch).
     */
    private List<Bundle> optionallyWiredTo(List<Bundle> added) {
        List<BundleCapability> exports = new ArrayList<>();
        for (Bundle b : added) {
            BundleRevision revision = b.adapt(BundleRevision.class);
            if (revision != null) {
                exports.addAll(revision.getDeclaredCapabilities(PackageNamespace.PACKAGE_NAMESPACE));
            }
        }
        List<Bundle> out = new ArrayList<>();
        for (Bundle b : context.getBundles()) {
            BundleWiring wiring = b.adapt(BundleWiring.class);
            if (added.contains(b) || wiring == null) {
                continue;
            }
            Set<BundleRequirement> wired = new HashSet<>();
            wiring.getRequiredWires(PackageNamespace.PACKAGE_NAMESPACE).forEach(w -> wired.add(w.getRequirement()));
            outer:
            for (BundleRequirement r : wiring.getRevision().getDeclaredRequirements(PackageNamespace.PACKAGE_NAMESPACE)) {
                if (!PackageNamespace.RESOLUTION_OPTIONAL.equals(r.getDirectives().get(PackageNamespace.REQUIREMENT_RESOLUTION_DIRECTIVE))
                        || wired.contains(r)) {
                    continue;
                }
                for (BundleCapability c : exports) {
                    if (r.matches(c)) {
                        out.add(b);
                        break outer;
                    }
                }
            }
        }
        return out;
    }

    private static List<String> symbolicNames(List<Bundle> bundles) {
        return bundles.stream().map(Bundle::getSymbolicName).toList();
    }

    /**
     * Refreshes {@code bundles} on the feature thread, after any feature change in hand and before
     * the next, so that a change never meets bundles half restarted; then runs {@code done}.
     */
    void refreshInTurn(List<Bundle> bundles, Runnable done) {
        try {
            changes.execute(() -> {
                refresh(bundles);
                done.run();
            });
        } catch (java.util.concurrent.RejectedExecutionException e) {
            LOG.info("{} not refreshed: the daemon is stopping", symbolicNames(bundles));
        }
    }

    /** Rewires after uninstalling, waiting until the framework reports the refresh done. */
    private void refresh(List<Bundle> removed) {
        CountDownLatch done = new CountDownLatch(1);
        context.getBundle(0).adapt(FrameworkWiring.class).refreshBundles(removed, event -> {
            if (event.getType() == FrameworkEvent.PACKAGES_REFRESHED || event.getType() == FrameworkEvent.ERROR) {
                done.countDown();
            }
        });
        try {
            if (!done.await(REFRESH_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                LOG.warn("the framework did not finish refreshing {} within {} s", Arrays.toString(removed.toArray()),
                        REFRESH_TIMEOUT_SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
