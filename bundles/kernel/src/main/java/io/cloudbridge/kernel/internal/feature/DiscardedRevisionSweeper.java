package io.cloudbridge.kernel.internal.feature;

import java.lang.ref.Reference;
import java.lang.reflect.Field;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleReference;
import org.osgi.framework.FrameworkEvent;
import org.osgi.framework.FrameworkListener;
import org.osgi.framework.wiring.BundleRevision;
import org.osgi.framework.wiring.BundleRevisions;
import org.osgi.framework.wiring.BundleWiring;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Lets the class loaders of bundle revisions that a refresh discarded be collected. Bundles start
 * and stop on threads that outlive them (the framework's refresh thread, the launcher's, the
 * component runtime's); a library that keeps a value in a JDK thread-local there (Netty's
 * {@code InternalThreadLocalMap} on every thread that is not its own, a cached signer or cipher)
 * leaves an entry whose value refers to its own class, so the class's loader, the static that
 * holds the thread-local key, and the whole revision stay reachable from the thread for good. The
 * chaos test counted a node's bundle class loaders doubling over 140 actions this way.
 *
 * <p>After each refresh this sweeps every live thread's thread-locals and lets go of values whose
 * class (or whose key's class) belongs to a revision no longer in use: on the calling thread by
 * removing the entry; on another thread by clearing the entry's value only, which never changes
 * the map's structure that its owner may be using. No code of a discarded revision runs any more,
 * so nothing reads the cleared value. Needs {@code --add-opens java.base/java.lang=ALL-UNNAMED}
 * (the daemon's start script passes it); without it, it says so once and does nothing.
 *
 * <p>Revisions that carry native code are the exception: they are pinned, never let go (see
 * {@link io.cloudbridge.boot.feature.NativeCodePins}).
 */
@Component(immediate = true)
public final class DiscardedRevisionSweeper implements FrameworkListener, org.osgi.framework.BundleListener {
    private static final Logger LOG = LoggerFactory.getLogger(DiscardedRevisionSweeper.class);

    private final Field threadLocals;
    private final Field inheritableThreadLocals;
    private final Field table;
    private final Field value;
    private BundleContext context;

    public DiscardedRevisionSweeper() {
        Field[] fields = new Field[4];
        try {
            Class<?> map = Class.forName("java.lang.ThreadLocal$ThreadLocalMap");
            Class<?> entry = Class.forName("java.lang.ThreadLocal$ThreadLocalMap$Entry");
            fields[0] = Thread.class.getDeclaredField("threadLocals");
            fields[1] = Thread.class.getDeclaredField("inheritableThreadLocals");
            fields[2] = map.getDeclaredField("table");
            fields[3] = entry.getDeclaredField("value");
            for (Field f : fields) {
                f.setAccessible(true);
            }
        } catch (ReflectiveOperationException | RuntimeException e) {
            LOG.info("discarded bundle revisions may stay in memory through thread-locals: the JVM does not let the kernel see "
                    + "them (start it with --add-opens java.base/java.lang=ALL-UNNAMED): {}", e.toString());
            fields = new Field[4];
        }
        threadLocals = fields[0];
        inheritableThreadLocals = fields[1];
        table = fields[2];
        value = fields[3];
    }

    @Activate
    void activate(BundleContext ctx) {
        this.context = ctx;
        ctx.addBundleListener(this);
        for (Bundle b : ctx.getBundles()) {
            pinIfNative(b);
        }
        if (value != null) {
            ctx.addFrameworkListener(this);
        }
    }

    @Deactivate
    void deactivate() {
        context.removeFrameworkListener(this);
        context.removeBundleListener(this);
    }

    @Override
    public void bundleChanged(org.osgi.framework.BundleEvent event) {
        if (event.getType() == org.osgi.framework.BundleEvent.RESOLVED) {
            pinIfNative(event.getBundle());
        }
    }

    /**
     * A revision with native code is never let go (see {@link NativeCodePins}): a fragment's
     * libraries are loaded by its host's class loader, so the host's is kept.
     */
    static void pinIfNative(Bundle bundle) {
        if (bundle.getHeaders("").get(org.osgi.framework.Constants.BUNDLE_NATIVECODE) == null) {
            return;
        }
        BundleWiring wiring = bundle.adapt(BundleWiring.class);
        if (wiring == null) {
            return; // not resolved yet: pinned when it is
        }
        if (bundle.getHeaders("").get(org.osgi.framework.Constants.FRAGMENT_HOST) == null) {
            pin(bundle, wiring);
        } else {
            for (org.osgi.framework.wiring.BundleWire host
                    : wiring.getRequiredWires(org.osgi.framework.namespace.HostNamespace.HOST_NAMESPACE)) {
                pin(host.getProviderWiring().getBundle(), host.getProviderWiring());
            }
        }
    }

    private static void pin(Bundle bundle, BundleWiring wiring) {
        if (io.cloudbridge.boot.feature.NativeCodePins.pin(wiring.getClassLoader())) {
            LOG.debug("revision of {} kept for the process's life: it carries native code", bundle.getSymbolicName());
        }
    }

    @Override
    public void frameworkEvent(FrameworkEvent event) {
        if (event.getType() == FrameworkEvent.PACKAGES_REFRESHED) {
            int released = sweep();
            if (released > 0) {
                LOG.debug("released {} thread-local values of discarded bundle revisions", released);
            }
        }
    }

    /** Returns how many thread-local values of discarded revisions it let go. */
    int sweep() {
        if (value == null) {
            return 0;
        }
        int released = 0;
        for (Thread thread : Thread.getAllStackTraces().keySet()) {
            released += sweep(thread, threadLocals) + sweep(thread, inheritableThreadLocals);
        }
        return released;
    }

    private int sweep(Thread thread, Field mapField) {
        Object[] entries;
        try {
            Object map = mapField.get(thread);
            if (map == null) {
                return 0;
            }
            Object[] live = (Object[]) table.get(map);
            entries = live == null ? new Object[0] : live.clone();
        } catch (IllegalAccessException e) {
            return 0;
        }
        int released = 0;
        for (Object entry : entries) {
            if (entry == null) {
                continue;
            }
            try {
                ThreadLocal<?> key = (ThreadLocal<?>) ((Reference<?>) entry).get();
                Object v = value.get(entry);
                if (v == null || !discarded(v) && (key == null || !discarded(key))) {
                    continue;
                }
                if (thread == Thread.currentThread() && key != null) {
                    key.remove();
                } else {
                    value.set(entry, null);
                }
                released++;
            } catch (IllegalAccessException | RuntimeException e) {
                LOG.debug("a thread-local of thread {} not swept: {}", thread.getName(), e.toString());
            }
        }
        return released;
    }

    /** Whether {@code o}'s class was loaded by a bundle revision that is no longer in use. */
    static boolean discarded(Object o) {
        ClassLoader loader = o.getClass().getClassLoader();
        if (!(loader instanceof BundleReference reference)) {
            return false;
        }
        Bundle bundle = reference.getBundle();
        BundleRevisions revisions = bundle.adapt(BundleRevisions.class);
        if (revisions == null) {
            return true;
        }
        for (BundleRevision revision : revisions.getRevisions()) {
            BundleWiring wiring = revision.getWiring();
            if (wiring != null && wiring.isInUse() && wiring.getClassLoader() == loader) {
                return false;
            }
        }
        return true;
    }
}
