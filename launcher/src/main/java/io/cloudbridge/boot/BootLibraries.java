package io.cloudbridge.boot;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.reflect.Method;
import java.net.URL;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import java.util.jar.Attributes;
import java.util.jar.Manifest;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The libraries on the class path whose packages the system bundle exports: Netty and JNA. They
 * carry native code, and a JVM cannot take a native library back safely: a thread that used
 * Netty's QUIC library (BoringSSL) crashes the process when it ends after that library was
 * unloaded with its bundle's class loader, and a bundle revision kept alive for its library keeps
 * every revision it was wired to. Loaded once from the class path, they are never refreshed,
 * updated or loaded twice; a new Netty comes with a new release of the runtime.
 *
 * <p>The price of a library that outlives bundles: whatever its statics capture while a bundle's
 * code is on the stack stays, and with it that bundle's class loader. An exception made in a static
 * initialiser keeps the classes of its stack trace; so the shared state that Netty creates lazily
 * is created here, from the launcher, before any bundle runs ({@link #initialiseSharedState}).
 * The test that cycles every feature and counts class loaders finds a new one.
 */
public final class BootLibraries {
    private static final Logger LOG = LoggerFactory.getLogger(BootLibraries.class);

    /**
     * Static state made on first use that would capture a stack: a class to initialise, or
     * {@code Class#method} to call (static, no arguments).
     */
    static final List<String> SHARED_STATE = List.of(
            // Each keeps why something is unavailable (no Unsafe, no OpenSSL, no Brotli or Zstd, no
            // key-log support): an exception with its stack. Epoll and Quic keep one only where
            // their native library cannot load (then once, a bounded cost); initialising them here
            // would load those libraries at every start, for daemons that use neither.
            "io.netty.util.internal.PlatformDependent",
            "io.netty.util.internal.VarHandleFactory",
            "io.netty.handler.ssl.OpenSsl",
            "io.netty.handler.ssl.SslMasterKeyHandler",
            "io.netty.handler.codec.compression.Brotli",
            "io.netty.handler.codec.compression.Zstd",
            // Its termination future is a failed one, whose exception is made at class initialisation.
            "io.netty.util.concurrent.ImmediateEventExecutor",
            // Each looks for Bouncy Castle once and keeps the ClassNotFoundException (Bouncy Castle is
            // a bundle, which the class path cannot see).
            "io.netty.handler.ssl.util.BouncyCastleUtil#isBcProvAvailable",
            "io.netty.handler.ssl.util.BouncyCastleUtil#isBcPkixAvailable",
            "io.netty.handler.ssl.util.BouncyCastleUtil#isBcTlsAvailable");

    private BootLibraries() {
    }

    static boolean isBootLibrary(String symbolicName) {
        return symbolicName.startsWith("io.netty.") || symbolicName.equals("com.sun.jna");
    }

    /**
     * The Export-Package headers of the boot libraries on the class path, as written in their
     * manifests (versions and uses constraints included), so that bundles wire to them as they
     * would to the libraries' own bundles.
     */
    static List<String> exports() {
        List<String> out = new ArrayList<>();
        try {
            Enumeration<URL> manifests = BootLibraries.class.getClassLoader().getResources("META-INF/MANIFEST.MF");
            while (manifests.hasMoreElements()) {
                try (InputStream in = manifests.nextElement().openStream()) {
                    Attributes main = new Manifest(in).getMainAttributes();
                    String name = main.getValue("Bundle-SymbolicName");
                    String exports = main.getValue("Export-Package");
                    if (name != null && exports != null && isBootLibrary(name.split(";", 2)[0].trim())) {
                        out.add(exports.trim());
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the manifests on the class path", e);
        }
        return out;
    }

    /** Creates the boot libraries' lazily made shared state now, with no bundle on the stack. */
    public static void initialiseSharedState() {
        ClassLoader loader = BootLibraries.class.getClassLoader();
        for (String entry : SHARED_STATE) {
            String[] parts = entry.split("#", 2);
            try {
                Class<?> type = Class.forName(parts[0], true, loader);
                if (parts.length == 2) {
                    Method m = type.getMethod(parts[1]);
                    m.invoke(null);
                }
            } catch (ClassNotFoundException e) {
                LOG.debug("{} is not on the class path", parts[0]);
            } catch (ReflectiveOperationException | LinkageError | RuntimeException e) {
                LOG.warn("could not initialise {} before the bundles; bundle revisions may stay in memory: {}", entry, e.toString());
            }
        }
    }
}
