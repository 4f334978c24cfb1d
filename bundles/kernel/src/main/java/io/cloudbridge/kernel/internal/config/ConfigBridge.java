package io.cloudbridge.kernel.internal.config;

import io.cloudbridge.api.audit.AuditTrail;
import io.cloudbridge.api.runtime.ConfigStatus;
import io.cloudbridge.api.runtime.ConfigValue;
import io.cloudbridge.api.runtime.ConfigurationView;
import io.cloudbridge.boot.RuntimeProperties;
import io.cloudbridge.boot.config.ConfigEntry;
import io.cloudbridge.boot.config.ConfigException;
import io.cloudbridge.boot.config.ConfigLoader;
import io.cloudbridge.boot.config.ConfigProblem;
import io.cloudbridge.boot.config.ConfigSnapshot;
import io.cloudbridge.boot.config.KeyNames;
import io.cloudbridge.boot.config.Origin;
import io.cloudbridge.boot.config.StartupRefusal;
import io.cloudbridge.api.runtime.ConfigurationValidator;
import java.io.IOException;
import java.lang.reflect.Array;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchEvent;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Dictionary;
import java.util.HashMap;
import java.util.Hashtable;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleEvent;
import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;
import org.osgi.service.metatype.AttributeDefinition;
import org.osgi.service.metatype.MetaTypeInformation;
import org.osgi.service.metatype.MetaTypeService;
import org.osgi.service.metatype.ObjectClassDefinition;
import org.osgi.util.tracker.BundleTracker;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * Carries the operator's YAML file (with environment and CLI overrides) into ConfigAdmin: each
 * section {@code s} becomes PID {@code cloudbridge.s}, typed and checked against the metatype its
 * component declares. The file is watched; an edit is applied whole or refused whole, and only PIDs
 * whose values changed are updated, so components see {@code @Modified} without a restart. A
 * section whose component is not installed is kept and checked once a bundle declaring it appears.
 */
@Component(immediate = true, service = ConfigurationView.class)
public final class ConfigBridge implements ConfigurationView {
    private static final Logger LOG = LoggerFactory.getLogger(ConfigBridge.class);
    private static final String PID_PREFIX = "cloudbridge.";
    /** Editors write a file in bursts (truncate, write, rename): wait this long for the burst to end. */
    private static final long SETTLE_MILLIS = 50;

    @Reference
    private ConfigurationAdmin configAdmin;
    @Reference
    private MetaTypeService metaType;
    private Path file;
    private Map<String, String> env;
    private List<String> cliOverrides;
    private ScheduledExecutorService executor;
    /** The reload waiting for a burst of file events to end; re-armed by every event. */
    private ScheduledFuture<?> pendingReload;
    private volatile Thread executorThread;
    private boolean strictStart;
    private BundleContext context;
    private final Map<ConfigurationValidator, String> validators = new ConcurrentHashMap<>();
    private final AtomicLong accepted = new AtomicLong();
    private final AtomicLong rejected = new AtomicLong();
    private final AtomicLong reloadIds = new AtomicLong();
    private BundleTracker<Bundle> schemaTracker;
    private WatchService watchService;
    private Thread watcher;

    /** Values pushed per PID; only touched on the executor. */
    private final Map<String, Dictionary<String, Object>> pushed = new HashMap<>();
    private volatile Applied applied = new Applied(null, Map.of(), List.of(), null);
    private volatile String lastRejection;
    /** What the audit trail is told of each load, edit and refusal. */
    private final ConfigAudit audit = new ConfigAudit();

    /** The configuration in force: the snapshot it came from and the schemas it was checked against. */
    private record Applied(ConfigSnapshot snapshot, Map<String, SectionSchema> schemas, List<String> pending,
            Instant at) {
    }

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC)
    void addValidator(ConfigurationValidator validator, Map<String, Object> properties) {
        validators.put(validator, String.valueOf(properties.get(ConfigurationValidator.SECTION)));
        if (executor != null) {
            queueReload("validator for '" + properties.get(ConfigurationValidator.SECTION) + "' added");
        }
    }

    void removeValidator(ConfigurationValidator validator) {
        validators.remove(validator);
    }

    /**
     * The audit trail starts after the kernel: when it arrives, it is told the configuration in
     * force, so that the trail shows what every later change changed from.
     */
    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    void bindAudit(AuditTrail trail) {
        audit.bind(trail);
        ScheduledExecutorService running = executor;
        if (running != null) {
            running.execute(() -> audit.inForce(trail, applied.snapshot(), applied.schemas()));
        }
    }

    void unbindAudit(AuditTrail trail) {
        audit.unbind(trail);
    }

    @Activate
    void activate(BundleContext context) {
        this.context = context;
        this.strictStart = Boolean.parseBoolean(context.getProperty(StartupRefusal.STRICT));
        String configured = context.getProperty(RuntimeProperties.CONFIG);
        this.file = configured == null ? null : Path.of(configured).toAbsolutePath();
        this.env = System.getenv();
        String cli = context.getProperty(RuntimeProperties.CLI_OVERRIDES);
        this.cliOverrides = cli == null || cli.isBlank() ? List.of() : List.of(cli.split("\n"));
        this.executor = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "cloudbridge-config");
            t.setDaemon(true);
            executorThread = t;
            return t;
        });
        // A bundle that declares a cloudbridge.* schema arriving or leaving changes what can be
        // checked: re-evaluate then, off the framework's event thread.
        this.schemaTracker = new BundleTracker<>(context, Bundle.RESOLVED | Bundle.STARTING | Bundle.ACTIVE, null) {
            @Override
            public Bundle addingBundle(Bundle bundle, BundleEvent event) {
                if (declaresSchema(bundle)) {
                    if (event != null) {
                        queueReload("bundle " + bundle.getSymbolicName() + " appeared");
                    }
                    return bundle;
                }
                return null;
            }

            @Override
            public void modifiedBundle(Bundle bundle, BundleEvent event, Bundle object) {
                // Active now: its components (validators among them) are registered; check again.
                if (bundle.getState() == Bundle.ACTIVE) {
                    queueReload("bundle " + bundle.getSymbolicName() + " active");
                }
            }

            @Override
            public void removedBundle(Bundle bundle, BundleEvent event, Bundle object) {
                queueReload("bundle " + bundle.getSymbolicName() + " left");
            }
        };
        schemaTracker.open();
        // The first load is synchronous: bundles started after the kernel then find their
        // configuration already in ConfigAdmin and activate once, with it.
        try {
            executor.submit(() -> reload("startup")).get(10, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            LOG.error("the first configuration load did not finish", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        startWatching();
    }

    @Deactivate
    void deactivate() {
        schemaTracker.close();
        if (watchService != null) {
            try {
                watchService.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }
        executor.shutdownNow();
    }

    private static boolean declaresSchema(Bundle bundle) {
        return bundle.getEntry("OSGI-INF/metatype") != null;
    }

    private void startWatching() {
        if (file == null || file.getParent() == null) {
            LOG.warn("no configuration file is set; running on defaults");
            return;
        }
        try {
            watchService = file.getFileSystem().newWatchService();
            file.getParent().register(watchService, StandardWatchEventKinds.ENTRY_CREATE,
                    StandardWatchEventKinds.ENTRY_MODIFY, StandardWatchEventKinds.ENTRY_DELETE);
        } catch (IOException e) {
            LOG.error("cannot watch {}; edits take effect only at the next start", file, e);
            return;
        }
        watcher = new Thread(this::watchLoop, "cloudbridge-config-watch");
        watcher.setDaemon(true);
        watcher.start();
    }

    private void watchLoop() {
        Path name = file.getFileName();
        try {
            while (true) {
                WatchKey key = watchService.take();
                boolean ours = false;
                for (WatchEvent<?> event : key.pollEvents()) {
                    if (event.kind() == StandardWatchEventKinds.OVERFLOW || name.equals(event.context())) {
                        ours = true;
                    }
                }
                key.reset();
                if (ours) {
                    queueReload("file changed");
                }
            }
        } catch (InterruptedException | ClosedWatchServiceException stop) {
            // deactivated
        }
    }

    /** Schedules a reload once events stop arriving for {@link #SETTLE_MILLIS}. */
    private synchronized void queueReload(String trigger) {
        if (pendingReload != null) {
            pendingReload.cancel(false);
        }
        try {
            pendingReload = executor.schedule(() -> reload(trigger), SETTLE_MILLIS, TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.RejectedExecutionException shuttingDown) {
            pendingReload = null;
        }
    }

    @Override
    public ConfigStatus reload() {
        if (Thread.currentThread() == executorThread) {
            reload("requested");
        } else {
            try {
                executor.submit(() -> reload("requested")).get(30, TimeUnit.SECONDS);
            } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
                LOG.error("a requested configuration reload did not finish", e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        return status();
    }

    /** Reads, checks and applies the configuration; runs only on the executor. */
    private void reload(String trigger) {
        String correlationId = "config-" + reloadIds.incrementAndGet();
        MDC.put("correlationId", correlationId);
        try {
            apply(trigger);
        } catch (RuntimeException e) {
            LOG.error("applying the configuration failed", e);
        } finally {
            MDC.remove("correlationId");
        }
    }

    private void apply(String trigger) {
        ConfigSnapshot snapshot;
        try {
            snapshot = ConfigLoader.load(file, env, cliOverrides, applied.snapshot() != null);
        } catch (ConfigException e) {
            reject(trigger, e.problems());
            return;
        }
        Map<String, SectionSchema> schemas = discoverSchemas();
        List<ConfigProblem> problems = new ArrayList<>();
        List<String> pending = new ArrayList<>();
        Map<String, Dictionary<String, Object>> wanted = new TreeMap<>();
        List<ConfigEntry> secrets = new ArrayList<>(snapshot.fileSecrets());
        // Secrets by schema (PASSWORD attributes), judged on the file as written: an override
        // from the environment does not make a secret in a readable file safe.
        for (ConfigEntry e : snapshot.fileEntries()) {
            SectionSchema schema = schemas.get(e.section());
            if (e.value() != null && schema != null && schema.find(e.key()).map(schema::isSecret).orElse(false)
                    && !secrets.contains(e)) {
                secrets.add(e);
            }
        }
        for (Map.Entry<String, Map<String, ConfigEntry>> section : snapshot.sections().entrySet()) {
            SectionSchema schema = schemas.get(section.getKey());
            if (schema == null) {
                pending.add(section.getKey());
                continue;
            }
            Dictionary<String, Object> props = new Hashtable<>();
            for (ConfigEntry entry : section.getValue().values()) {
                Optional<AttributeDefinition> ad = schema.find(entry.key());
                if (ad.isEmpty()) {
                    problems.add(new ConfigProblem(entry.where(), entry.section(), entry.key(),
                            "unknown key; '" + entry.section() + "' takes: "
                                    + String.join(", ", schema.attributes().keySet())));
                    continue;
                }
                if (entry.value() == null) {
                    continue; // "key:" with no value keeps the default
                }
                try {
                    props.put(ad.get().getID(), schema.convert(ad.get(), entry));
                } catch (IllegalArgumentException e) {
                    problems.add(new ConfigProblem(entry.where(), entry.section(), entry.key(), e.getMessage()));
                }
            }
            validate(section.getKey(), props, problems);
            wanted.put(KeyNames.pid(section.getKey()), props);
        }
        if (problems.isEmpty()) {
            try {
                ConfigLoader.checkPermissions(snapshot, secrets);
            } catch (ConfigException e) {
                problems.addAll(e.problems());
            }
        }
        if (!problems.isEmpty()) {
            reject(trigger, problems);
            return;
        }
        // A pending section whose bundle is away for a moment (a bundle update stops it, then
        // starts its new revision) keeps the configuration last applied: deleted, the returning
        // bundle's components would activate on defaults before it is pushed again (a WireGuard
        // interface with a new key, which made the node register again under it; seen in the lab).
        Set<String> keep = new java.util.HashSet<>();
        pending.forEach(section -> keep.add(KeyNames.pid(section)));
        List<String> changed = push(wanted, keep);
        boolean first = applied.snapshot() == null;
        applied = new Applied(snapshot, schemas, List.copyOf(pending), Instant.now());
        audit.applied(trigger, first, ConfigAudit.values(snapshot, schemas));
        lastRejection = null;
        accepted.incrementAndGet();
        if (!pending.isEmpty()) {
            LOG.warn("sections {} have no installed component yet; they are kept and checked when their feature"
                    + " is installed", pending);
        }
        LOG.info("configuration applied ({}): changed {}", trigger, changed.isEmpty() ? "nothing" : changed);
    }

    /** Runs the section's whiteboard validators over its typed values. */
    private void validate(String section, Dictionary<String, Object> props, List<ConfigProblem> problems) {
        Map<String, Object> values = new HashMap<>();
        for (String key : java.util.Collections.list(props.keys())) {
            values.put(key, props.get(key));
        }
        String where = file == null ? "configuration" : file.getFileName().toString();
        validators.forEach((validator, forSection) -> {
            if (forSection.equals(section)) {
                try {
                    validator.validate(values).forEach(p -> problems.add(new ConfigProblem(where, section, null, p)));
                } catch (RuntimeException e) {
                    LOG.error("validator {} for '{}' failed; the edit is refused", validator.getClass().getName(),
                            section, e);
                    problems.add(new ConfigProblem(where, section, null, "its validator failed: " + e));
                }
            }
        });
    }

    private void reject(String trigger, List<ConfigProblem> problems) {
        StringBuilder sb = new StringBuilder();
        for (ConfigProblem p : problems) {
            sb.append(sb.length() == 0 ? "" : "; ").append(p);
        }
        // The reason first, then the count: whoever sees the count go up finds its reason.
        lastRejection = sb.toString();
        rejected.incrementAndGet();
        audit.refused(trigger, lastRejection);
        if ((applied.snapshot() == null || StartupRefusal.starting()) && strictStart) {
            // Nothing good was ever applied: rather than run on defaults the operator did not
            // choose, stop, and let the launcher report why.
            LOG.error("configuration refused at start ({}); stopping: {}", trigger, lastRejection);
            StartupRefusal.record(problems);
            Thread stopper = new Thread(() -> {
                try {
                    context.getBundle(0).stop();
                } catch (org.osgi.framework.BundleException | IllegalStateException e) {
                    LOG.error("cannot stop the runtime", e);
                }
            }, "cloudbridge-config-refused");
            stopper.start();
            return;
        }
        LOG.error("configuration refused ({}); the last good configuration stays in force: {}", trigger, lastRejection);
    }

    /** Updates the PIDs whose values differ and deletes those no longer configured, but those in {@code keep}. */
    private List<String> push(Map<String, Dictionary<String, Object>> wanted, Set<String> keep) {
        List<String> changed = new ArrayList<>();
        for (Map.Entry<String, Dictionary<String, Object>> e : wanted.entrySet()) {
            if (sameProperties(pushed.get(e.getKey()), e.getValue())) {
                continue;
            }
            try {
                Configuration c = configAdmin.getConfiguration(e.getKey(), "?");
                c.updateIfDifferent(e.getValue());
                pushed.put(e.getKey(), e.getValue());
                changed.add(e.getKey());
            } catch (IOException ex) {
                LOG.error("ConfigAdmin refused {}", e.getKey(), ex);
            }
        }
        for (String pid : new ArrayList<>(pushed.keySet())) {
            if (!wanted.containsKey(pid) && !keep.contains(pid)) {
                try {
                    Configuration c = configAdmin.getConfiguration(pid, "?");
                    c.delete();
                    changed.add(pid + " (removed)");
                } catch (IOException ex) {
                    LOG.error("ConfigAdmin refused to delete {}", pid, ex);
                }
                pushed.remove(pid);
            }
        }
        return changed;
    }

    private static boolean sameProperties(Dictionary<String, Object> a, Dictionary<String, Object> b) {
        if (a == null || a.size() != b.size()) {
            return false;
        }
        for (String key : java.util.Collections.list(b.keys())) {
            Object x = a.get(key);
            Object y = b.get(key);
            if (x == null || !(x.getClass().isArray() && y.getClass().isArray()
                    ? Arrays.deepEquals(new Object[] {x}, new Object[] {y}) : x.equals(y))) {
                return false;
            }
        }
        return true;
    }

    private Map<String, SectionSchema> discoverSchemas() {
        Map<String, SectionSchema> schemas = new HashMap<>();
        for (Bundle bundle : schemaTracker.getBundles() == null ? new Bundle[0] : schemaTracker.getBundles()) {
            if ((bundle.getState() & (Bundle.UNINSTALLED | Bundle.INSTALLED)) != 0) {
                // Going away (a feature being uninstalled): the metatype service would log an
                // error for each document it can no longer read.
                continue;
            }
            MetaTypeInformation info;
            try {
                info = metaType.getMetaTypeInformation(bundle);
            } catch (RuntimeException e) {
                // Uninstalled between the state check and this read (a feature going away): the
                // framework then fails in several ways (IllegalStateException, a null revision).
                // Its sections are no longer anyone's, as on the next discovery.
                if ((bundle.getState() & (Bundle.UNINSTALLED | Bundle.INSTALLED)) == 0) {
                    LOG.warn("cannot read the configuration schemas of bundle {}: {}", bundle.getSymbolicName(), e.toString());
                }
                continue;
            }
            if (info == null) {
                continue;
            }
            for (String pid : info.getPids()) {
                if (!pid.startsWith(PID_PREFIX)) {
                    continue;
                }
                String section = pid.substring(PID_PREFIX.length());
                try {
                    ObjectClassDefinition ocd = info.getObjectClassDefinition(pid, null);
                    if (ocd != null) {
                        schemas.put(section, new SectionSchema(section, bundle, ocd));
                    }
                } catch (IllegalArgumentException broken) {
                    LOG.warn("bundle {} declares an unreadable schema for {}", bundle.getSymbolicName(), pid);
                } catch (RuntimeException uninstalled) {
                    break; // the bundle went away while its schemas were read (see above)
                }
            }
        }
        return schemas;
    }

    @Override
    public List<ConfigValue> effective() {
        Applied a = applied;
        List<ConfigValue> out = new ArrayList<>();
        for (SectionSchema schema : new TreeMap<>(a.schemas()).values()) {
            for (AttributeDefinition ad : schema.attributes().values()) {
                boolean secret = schema.isSecret(ad);
                Optional<ConfigEntry> entry = a.snapshot() == null ? Optional.empty()
                        : a.snapshot().section(schema.section()).values().stream()
                                .filter(e -> e.value() != null && schema.find(e.key()).map(x -> x == ad).orElse(false))
                                .findFirst();
                if (entry.isPresent()) {
                    ConfigEntry e = entry.get();
                    out.add(new ConfigValue(schema.section(), ad.getID(), secret ? "***" : display(e.value()),
                            e.origin().label(), e.where(), secret));
                } else {
                    String[] defaults = ad.getDefaultValue();
                    String value = defaults == null ? "" : String.join(",", defaults);
                    out.add(new ConfigValue(schema.section(), ad.getID(), secret && !value.isEmpty() ? "***" : value,
                            Origin.DEFAULT.label(), "", secret));
                }
            }
        }
        if (a.snapshot() != null) {
            for (String section : a.pending()) {
                for (ConfigEntry e : a.snapshot().section(section).values()) {
                    boolean secret = KeyNames.isSecretName(e.key());
                    out.add(new ConfigValue(section, e.key(), secret ? "***" : display(e.value()),
                            e.origin().label(), e.where() + " (feature not installed)", secret));
                }
            }
        }
        return out;
    }

    /** A value as shown, a secret inside it masked (a database URL's password: its key names no secret). */
    private static String display(Object value) {
        return io.cloudbridge.boot.config.SecretText.mask(joined(value));
    }

    static String joined(Object value) {
        if (value instanceof List<?> list) {
            return String.join(",", list.stream().map(String::valueOf).toList());
        }
        if (value != null && value.getClass().isArray()) {
            List<String> items = new ArrayList<>();
            for (int i = 0; i < Array.getLength(value); i++) {
                items.add(String.valueOf(Array.get(value, i)));
            }
            return String.join(",", items);
        }
        return String.valueOf(value);
    }

    @Override
    public ConfigStatus status() {
        Applied a = applied;
        Set<String> pending = new LinkedHashSet<>(a.pending());
        return new ConfigStatus(file == null ? "" : file.toString(), accepted.get(), rejected.get(),
                Optional.ofNullable(a.at()), Optional.ofNullable(lastRejection), List.copyOf(pending));
    }
}
