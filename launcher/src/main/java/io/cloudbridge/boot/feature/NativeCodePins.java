package io.cloudbridge.boot.feature;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;

/**
 * Class loaders of bundle revisions that carry native code, kept for the life of the process. The
 * JVM unloads a native library when the class loader that loaded it is collected, and a library
 * that registered a thread-exit destructor (JNA's per-thread error storage, BoringSSL's error
 * queue in Netty's QUIC codec) then leaves a pointer into unmapped memory in every thread that used
 * it: the JVM crashes when such a thread ends. The chaos test saw it once uninstalled revisions
 * could be collected (a feature-manager thread that had opened a TUN device through JNA ended
 * after JNA's loader was gone). Here, in the boot layer, so that no bundle's refresh drops them.
 *
 * <p>The cost: each uninstall or refresh of such a bundle keeps its old revision (and what that
 * revision is wired to) in memory, where every other revision is unloaded. That is why the
 * runtime's own native code (Netty, JNA) is not in bundles but on the class path (see
 * {@code io.cloudbridge.boot.BootLibraries}); this remains the safety net for vendor bundles that
 * carry a {@code Bundle-NativeCode} header.
 */
public final class NativeCodePins {
    private static final Set<ClassLoader> PINNED = Collections.newSetFromMap(new IdentityHashMap<>());

    private NativeCodePins() {
    }

    /** Keeps {@code loader} for good; returns whether it was new. */
    public static synchronized boolean pin(ClassLoader loader) {
        return loader != null && PINNED.add(loader);
    }

    public static synchronized int count() {
        return PINNED.size();
    }

    static synchronized List<ClassLoader> pinned() {
        return new ArrayList<>(PINNED);
    }
}
