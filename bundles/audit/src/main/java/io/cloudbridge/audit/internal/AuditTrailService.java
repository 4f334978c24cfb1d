package io.cloudbridge.audit.internal;

import io.cloudbridge.api.audit.AuditEvent;
import io.cloudbridge.api.audit.AuditTrail;
import io.cloudbridge.api.runtime.RuntimeEnvironment;
import io.cloudbridge.boot.config.SecretText;
import io.cloudbridge.boot.log.LogControl;
import io.cloudbridge.boot.log.LogLevel;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleEvent;
import org.osgi.framework.SynchronousBundleListener;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.metatype.annotations.Designate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The daemon's audit trail ({@link AuditChain}): what other components record through
 * {@link AuditTrail} (configuration, features, admin commands), and what it watches itself: bundles
 * installed, updated and uninstalled (by a feature, by a command or through {@code deploy/}), and
 * every event of the security logger ({@code io.cloudbridge.security}: refused sign-ins and
 * callers, by reason) that the log's flood guard admits, whatever the log's level, at most
 * {@value #SECURITY_PER_SECOND} a second after a burst of {@value #SECURITY_BURST} (beyond that
 * they are counted, and the count recorded): callers who are refused must not be able to rotate
 * the administrators' history out of the trail. A new configuration closes the trail (signed) and
 * opens it again with the new settings.
 */
@Component(configurationPid = "cloudbridge.audit", immediate = true, service = {AuditTrail.class, AuditTrailService.class})
@Designate(ocd = AuditConfig.class)
public final class AuditTrailService implements AuditTrail {
    private static final Logger LOG = LoggerFactory.getLogger(AuditTrailService.class);
    static final String SECURITY_LOGGER = "io.cloudbridge.security";
    static final int SECURITY_BURST = 200;
    static final int SECURITY_PER_SECOND = 20;
    /** The category only the trail itself writes: its checkpoints, openings and continuations. */
    static final String OWN_CATEGORY = "audit";

    @Reference
    private RuntimeEnvironment runtime;

    private final AtomicLong failures = new AtomicLong();
    private final AtomicLong forwardFailures = new AtomicLong();
    private AuditChain chain;
    private CheckpointKey key;
    private Path folder;
    private SyslogForwarder syslog;
    private AutoCloseable securityTap;
    private BundleContext context;
    private SynchronousBundleListener bundleListener;
    private ScheduledExecutorService checkpoints;
    /** Security events the budget left out since the last summary of them. */
    private final AtomicLong securityLeftOut = new AtomicLong();
    private double securityTokens = SECURITY_BURST;
    private long securityRefilledNanos = System.nanoTime();

    @Activate
    void activate(BundleContext context, AuditConfig config) throws IOException {
        this.context = context;
        folder = config.folder().isBlank() ? runtime.stateFolder("audit") : runtime.configuredPath(config.folder());
        key = CheckpointKey.loadOrCreate(folder, runtime::writeSecret);
        if (!config.syslog().isBlank()) {
            try {
                syslog = SyslogForwarder.to(config.syslog());
            } catch (IOException e) {
                // (The validator refuses such an edit; a trail without its copy beats no trail.)
                LOG.error("audit lines are not forwarded: {}", e.getMessage());
            }
        }
        synchronized (this) {
            chain = new AuditChain(folder, config.maxFileBytes(), config.maxFiles(), config.checkpointEntries(), key,
                    this::forward);
        }
        Map<String, String> opened = new LinkedHashMap<>();
        opened.put("role", runtime.role());
        opened.put("file", chain.file().toString());
        opened.put("key", key.id());
        opened.put("syslog", syslog == null ? "" : syslog.target());
        opened.put("bundles", bundleList(context));
        recordOwn(new AuditEvent(OWN_CATEGORY, "opened", "daemon", AuditEvent.OK, opened));
        checkpointNow();
        bundleListener = this::bundleChanged;
        context.addBundleListener(bundleListener);
        securityTap = LogControl.tap(SECURITY_LOGGER, LogLevel.INFO, (time, level, logger, message, ctx) -> {
            Map<String, String> details = new LinkedHashMap<>();
            details.put("level", level.name());
            details.put("logger", logger);
            details.put("message", SecretText.mask(message));
            String correlation = ctx.get("correlationId");
            if (correlation != null) {
                details.put("correlationId", correlation);
            }
            if (!takeSecurityToken()) {
                securityLeftOut.incrementAndGet();
                return;
            }
            recordLeftOutSecurityEvents();
            recordOwn(new AuditEvent("security", "event", "remote", level == LogLevel.INFO ? AuditEvent.OK : AuditEvent.FAILED,
                    details));
        });
        checkpoints = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "cloudbridge-audit-checkpoint");
            t.setDaemon(true);
            return t;
        });
        checkpoints.scheduleWithFixedDelay(this::checkpointNow, config.checkpointSeconds(), config.checkpointSeconds(),
                TimeUnit.SECONDS);
        LOG.info("audit trail in {} (entry {}; checkpoints signed by key {}{})", chain.file(), chain.sequence(), key.id(),
                syslog == null ? "" : "; forwarded to syslog at " + syslog.target());
    }

    @Deactivate
    void deactivate() {
        if (checkpoints != null) {
            checkpoints.shutdownNow();
        }
        closeQuietly(securityTap);
        if (bundleListener != null) {
            context.removeBundleListener(bundleListener);
        }
        recordLeftOutSecurityEvents();
        recordOwn(new AuditEvent(OWN_CATEGORY, "closed", "daemon", AuditEvent.OK, Map.of()));
        synchronized (this) {
            try {
                chain.checkpoint(Instant.now());
            } catch (IOException e) {
                LOG.error("the audit trail's closing checkpoint failed", e);
            }
            closeQuietly(chain);
            chain = null;
        }
        closeQuietly(syslog);
    }

    /** Another component's event; the trail's own category is refused (a forged checkpoint would fail verification). */
    @Override
    public void record(AuditEvent event) {
        if (OWN_CATEGORY.equals(event.category())) {
            failures.incrementAndGet();
            LOG.warn("an audit entry in the trail's own category '{}' refused ({})", OWN_CATEGORY, event.action());
            return;
        }
        recordOwn(event);
    }

    private void recordOwn(AuditEvent event) {
        Instant now = Instant.now();
        synchronized (this) {
            if (chain == null) {
                failures.incrementAndGet();
                return;
            }
            try {
                chain.append(now, event);
            } catch (IOException | RuntimeException e) {
                failures.incrementAndGet();
                LOG.error("audit entry not written ({} {}): {}", event.category(), event.action(), e.toString());
            }
        }
    }

    /** The trail's folder, for {@code audit:verify}. */
    Path folder() {
        return folder;
    }

    CheckpointKey key() {
        return key;
    }

    /** Entries refused for a write that failed, and lines syslog did not take. */
    long failures() {
        return failures.get();
    }

    long forwardFailures() {
        return forwardFailures.get();
    }

    /** A token of the security events' budget, refilled continuously. */
    private synchronized boolean takeSecurityToken() {
        long now = System.nanoTime();
        securityTokens = Math.min(SECURITY_BURST, securityTokens + (now - securityRefilledNanos) * SECURITY_PER_SECOND / 1e9);
        securityRefilledNanos = now;
        if (securityTokens < 1) {
            return false;
        }
        securityTokens--;
        return true;
    }

    /** How many security events the budget left out, as one entry, when any were. */
    private void recordLeftOutSecurityEvents() {
        long leftOut = securityLeftOut.getAndSet(0);
        if (leftOut > 0) {
            recordOwn(new AuditEvent("security", "left out", "daemon", AuditEvent.FAILED, Map.of("events", Long.toString(leftOut),
                    "why", "more than " + SECURITY_PER_SECOND + " a second after a burst of " + SECURITY_BURST)));
        }
    }

    /**
     * The trail's files as they are now, for {@code audit:verify}: linked (or copied) aside under
     * the trail's lock, so that a rotation or a line being written meanwhile is not taken for
     * tampering; the live file up to what it held then.
     */
    Snapshot snapshot() throws IOException {
        synchronized (this) {
            Path aside = java.nio.file.Files.createTempDirectory(folder, ".verify-");
            List<Path> files = new ArrayList<>();
            long liveBytes = -1;
            for (Path file : AuditVerifier.files(folder)) {
                Path copy = aside.resolve(file.getFileName());
                try {
                    java.nio.file.Files.createLink(copy, file);
                } catch (IOException | UnsupportedOperationException noLinks) {
                    java.nio.file.Files.copy(file, copy);
                }
                files.add(copy);
                liveBytes = java.nio.file.Files.size(file);
            }
            return new Snapshot(aside, files, liveBytes);
        }
    }

    /** Files set aside for a verification; closing removes them (the trail's own stay). */
    record Snapshot(Path folder, List<Path> files, long liveBytes) implements AutoCloseable {
        @Override
        public void close() throws IOException {
            for (Path f : files) {
                java.nio.file.Files.deleteIfExists(f);
            }
            java.nio.file.Files.deleteIfExists(folder);
        }
    }

    private synchronized void checkpointNow() {
        recordLeftOutSecurityEvents();
        if (chain == null) {
            return;
        }
        try {
            chain.checkpoint(Instant.now());
        } catch (IOException | RuntimeException e) {
            failures.incrementAndGet();
            LOG.error("audit checkpoint not written: {}", e.toString());
        }
    }

    /** Every line, checkpoints too, to syslog as well when it is configured. */
    private void forward(String line) {
        if (syslog != null && !syslog.send(Instant.now(), line)) {
            forwardFailures.incrementAndGet();
        }
    }

    private void bundleChanged(BundleEvent event) {
        String action = switch (event.getType()) {
            case BundleEvent.INSTALLED -> "installed";
            case BundleEvent.UPDATED -> "updated";
            case BundleEvent.UNINSTALLED -> "uninstalled";
            default -> null;
        };
        if (action == null) {
            return;
        }
        Bundle bundle = event.getBundle();
        Map<String, String> details = new LinkedHashMap<>();
        details.put("bundle", String.valueOf(bundle.getSymbolicName()));
        details.put("version", bundle.getVersion().toString());
        details.put("location", SecretText.mask(bundle.getLocation()));
        // Who installed it: the kernel (a feature), FileInstall (deploy/), the framework (a command).
        Bundle origin = event.getOrigin();
        String actor = event.getType() != BundleEvent.INSTALLED || origin == null || origin.getBundleId() == 0 ? "daemon"
                : String.valueOf(origin.getSymbolicName());
        recordOwn(new AuditEvent("bundle", action, actor, AuditEvent.OK, details));
    }

    private static String bundleList(BundleContext context) {
        StringBuilder sb = new StringBuilder();
        for (Bundle b : context.getBundles()) {
            if (b.getBundleId() == 0) {
                continue;
            }
            sb.append(sb.length() == 0 ? "" : ",").append(b.getSymbolicName()).append(' ').append(b.getVersion());
        }
        return sb.toString();
    }

    private void closeQuietly(AutoCloseable closeable) {
        if (closeable == null) {
            return;
        }
        try {
            closeable.close();
        } catch (Exception e) {
            LOG.warn("closing {}: {}", closeable.getClass().getSimpleName(), e.toString());
        }
    }
}
