package io.cloudbridge.tun.internal;

import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The native binding of {@link LinuxTun}'s libc calls, made on first use and undone when this
 * bundle stops with no device open. JNA keeps a registered class (and so this bundle's class
 * loader) in a map of its own, and its cleaner thread lives while the library it loaded does: a
 * binding made in a static initializer and never undone kept every uninstalled revision of this
 * bundle and of JNA alive, one of each per uninstall of the overlay feature.
 */
final class LibcBinding {
    private static final Logger LOG = LoggerFactory.getLogger(LibcBinding.class);
    private static boolean bound;
    private static int openDevices;
    /** The bundle stopped while a device was open: the binding goes when the last one closes. */
    private static boolean releaseWhenClosed;

    private LibcBinding() {
    }

    static synchronized void bind() {
        releaseWhenClosed = false;
        if (!bound) {
            // libc by name alone: a system library needs no class loader to be found, and JNA
            // keeps the options it was given.
            NativeLibrary libc = NativeLibrary.getInstance("c");
            Native.register(LinuxTun.LibC.class, libc);
            Native.register(LinuxTun.QuietLibC.class, libc);
            if (LinuxTun.LONG_IS_32_BITS) {
                Native.register(LinuxTun.LibC32.class, libc);
                Native.register(LinuxTun.QuietLibC32.class, libc);
            }
            bound = true;
        }
    }

    static synchronized void opened() {
        openDevices++;
    }

    static synchronized void closed() {
        openDevices--;
        if (releaseWhenClosed) {
            unbind();
        }
    }

    /**
     * Undoes the binding, or, while a device is still open (only this bundle was stopped, and the
     * overlay still uses its classes, whose natives must work until it closes), once the last closes.
     */
    static synchronized boolean unbind() {
        if (!bound) {
            return false;
        }
        if (openDevices > 0) {
            releaseWhenClosed = true;
            LOG.debug("libc binding kept until the last of {} open TUN devices closes", openDevices);
            return false;
        }
        releaseWhenClosed = false;
        Native.unregister(LinuxTun.LibC.class);
        Native.unregister(LinuxTun.QuietLibC.class);
        forgetInJnaCaches(LinuxTun.LibC.class, LinuxTun.QuietLibC.class);
        if (LinuxTun.LONG_IS_32_BITS) {
            Native.unregister(LinuxTun.LibC32.class);
            Native.unregister(LinuxTun.QuietLibC32.class);
            forgetInJnaCaches(LinuxTun.LibC32.class, LinuxTun.QuietLibC32.class);
        }
        bound = false;
        LOG.debug("libc binding released");
        return true;
    }

    /**
     * JNA, in the boot layer, caches each registered class's options in weak maps keyed by the
     * class, whose values refer to the class again (the library's options, the enclosing class):
     * the key is never let go, nor this bundle's revision. {@code unregister} leaves them, so they
     * are removed here; JNA builds them again on the next registration.
     */
    private static void forgetInJnaCaches(Class<?>... classes) {
        for (String name : new String[] {"typeOptions", "libraries"}) {
            try {
                java.lang.reflect.Field field = Native.class.getDeclaredField(name);
                field.setAccessible(true);
                java.util.Map<?, ?> cache = (java.util.Map<?, ?>) field.get(null);
                synchronized (cache) {
                    for (Class<?> c : classes) {
                        cache.remove(c);
                    }
                }
            } catch (ReflectiveOperationException | RuntimeException e) {
                LOG.debug("cannot clear JNA's {} cache; this bundle's old revision may stay in memory: {}", name, e.toString());
            }
        }
    }
}
