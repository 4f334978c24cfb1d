package io.cloudbridge.kernel.internal.feature;

import io.cloudbridge.api.runtime.FeatureService;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleEvent;
import org.osgi.framework.BundleListener;
import org.osgi.framework.wiring.BundleRevisions;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Refreshes a bundle an operator updated ({@code update NAME}), so that the update takes effect in
 * every bundle wired to it. The framework alone keeps the old revision for the bundles that were
 * wired to it until someone refreshes, and two revisions exporting the same packages is a trap:
 * a bundle resolved later wires to the new one and can no longer see a package of a bundle still
 * wired to the old (a uses conflict drops the optional import). The chaos test found it on a relay:
 * a refresh after two updates of Netty modules brought the WebSocket plugin back without the
 * relay's route interface, and the relay served no WebSocket session until it restarted.
 *
 * <p>{@code update} answers before the refresh is done; the log says when it began and when it
 * ended ("refreshed [...] after the update"), or that there was nothing to refresh ("took effect
 * at once": no bundle was wired to the old revision, which the framework then let go by itself).
 * The refresh runs on the feature manager's thread, between feature changes, never inside one.
 *
 * <p>Updates come in bursts (a script updating several bundles), so they are refreshed together
 * once none came for {@link #QUIET_MILLIS}. FileInstall refreshes what it updates from the deploy
 * folder itself; by then such a bundle has no old revision left, and nothing is done twice.
 */
@Component(immediate = true)
public final class UpdatedBundleRefresher implements BundleListener {
    private static final Logger LOG = LoggerFactory.getLogger(UpdatedBundleRefresher.class);
    static final long QUIET_MILLIS = 300;

    @Reference
    private FeatureService features;

    private final Set<Bundle> updated = new LinkedHashSet<>();
    /** When the last update came, while one is waiting to be refreshed; 0 when none waits. */
    private long lastUpdateNanos;
    private ScheduledThreadPoolExecutor timer;
    private BundleContext context;

    @Activate
    void activate(BundleContext ctx) {
        this.context = ctx;
        timer = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, "cloudbridge-update-refresh");
            t.setDaemon(true);
            return t;
        });
        // No thread lingers between updates, and none outlives this component's revision.
        timer.setKeepAliveTime(1, TimeUnit.SECONDS);
        timer.allowCoreThreadTimeOut(true);
        ctx.addBundleListener(this);
        // An update of the kernel itself (or of what it is wired to) came while no listener was
        // there: whatever still has an old revision is refreshed now.
        for (Bundle b : ctx.getBundles()) {
            if (b.getBundleId() != 0 && hasOldRevision(b)) {
                noteUpdate(b);
            }
        }
    }

    @Deactivate
    void deactivate(BundleContext ctx) {
        ctx.removeBundleListener(this);
        timer.shutdownNow();
    }

    @Override
    public void bundleChanged(BundleEvent event) {
        if (event.getType() == BundleEvent.UPDATED) {
            noteUpdate(event.getBundle());
        }
    }

    private void noteUpdate(Bundle bundle) {
        synchronized (updated) {
            boolean due = lastUpdateNanos != 0;
            updated.add(bundle);
            lastUpdateNanos = System.nanoTime();
            if (due) {
                return; // a refresh is already waiting; it takes this one along
            }
        }
        schedule(QUIET_MILLIS);
    }

    private void schedule(long millis) {
        try {
            timer.schedule(this::refreshWhenQuiet, millis, TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            // deactivated meanwhile: the framework is stopping, or the kernel is being replaced
        }
    }

    private static boolean hasOldRevision(Bundle b) {
        BundleRevisions revisions = b.adapt(BundleRevisions.class);
        return b.getState() != Bundle.UNINSTALLED && revisions != null && revisions.getRevisions().size() > 1;
    }

    private void refreshWhenQuiet() {
        List<Bundle> due = new ArrayList<>();
        List<String> atOnce = new ArrayList<>();
        synchronized (updated) {
            long quietFor = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - lastUpdateNanos);
            if (quietFor < QUIET_MILLIS) {
                schedule(QUIET_MILLIS - quietFor); // the burst goes on
                return;
            }
            for (Bundle b : updated) {
                // Only those still holding an older revision: one refreshed meanwhile (by hand,
                // by FileInstall), or uninstalled, needs nothing.
                if (hasOldRevision(b)) {
                    due.add(b);
                } else {
                    atOnce.add(b.getSymbolicName());
                }
            }
            updated.clear();
            lastUpdateNanos = 0;
        }
        if (!atOnce.isEmpty()) {
            LOG.info("update of {} took effect at once: no bundle was wired to the old revision", atOnce);
        }
        if (due.isEmpty()) {
            return;
        }
        List<String> names = due.stream().map(Bundle::getSymbolicName).toList();
        LOG.info("refreshing {} so that the update takes effect in every bundle wired to it", names);
        Runnable done = () -> LOG.info("refreshed {} after the update: every bundle wired to it uses the new revision", names);
        if (features instanceof FeatureManager manager) {
            manager.refreshInTurn(due, done);
        } else {
            LOG.warn("the feature manager is not this kernel's: refreshing {} without waiting for feature changes", names);
            context.getBundle(0).adapt(org.osgi.framework.wiring.FrameworkWiring.class).refreshBundles(due, e -> done.run());
        }
    }
}
