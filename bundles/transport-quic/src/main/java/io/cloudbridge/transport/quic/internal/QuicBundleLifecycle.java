package io.cloudbridge.transport.quic.internal;

import io.netty.handler.codec.quic.Quic;
import io.netty.util.internal.PlatformDependent;
import java.io.FileNotFoundException;
import org.osgi.annotation.bundle.Header;
import org.osgi.framework.BundleActivator;
import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleException;
import org.osgi.framework.Constants;

/**
 * The bundle's start, refused where QUIC's native library cannot load: netty-codec-native-quic
 * (quiche and BoringSSL) is built for some platforms only, and the distribution's lib/ carries
 * linux-x86_64 and linux-aarch_64 (docs/operations.md, "Platforms"); on 32-bit x86 there is none.
 * The bundle then stays resolved, its components never run, the launcher logs the reason on one
 * line and the feature's health names it; a node reaches its relay over the next transport
 * (WebSocket). Refused here rather than in a component: a component's failed activation would go to
 * the log as a stack trace and leave the feature healthy.
 */
@Header(name = Constants.BUNDLE_ACTIVATOR, value = "${@class}")
public final class QuicBundleLifecycle implements BundleActivator {
    @Override
    public void start(BundleContext context) throws BundleException {
        if (Quic.isAvailable()) {
            return;
        }
        // (Framework rethrows a BundleException as it is, so its message is the launcher's line.)
        throw new BundleException(refusal(PlatformDependent.normalizedOs() + "-" + PlatformDependent.normalizedArch(),
                System.getProperty("os.arch"), Quic.unavailabilityCause()), BundleException.ACTIVATOR_ERROR);
    }

    @Override
    public void stop(BundleContext context) {
        // nothing: the native library is the boot layer's, loaded once per process
    }

    /**
     * Why QUIC cannot run here, in one line.
     *
     * @param platform Netty's name of this platform, as its native jars' classifiers spell it ({@code linux-x86_32})
     * @param osArch the JVM's {@code os.arch}
     * @param cause what Netty's loader threw (null when it kept nothing)
     */
    static String refusal(String platform, String osArch, Throwable cause) {
        String why = "QUIC needs the native library netty-codec-native-quic, which ";
        if (missingFile(cause)) {
            why += "has no build for " + platform + " (os.arch " + osArch + ") in this distribution";
        } else {
            why += "did not load on " + platform + " (os.arch " + osArch + "): " + rootMessage(cause);
        }
        return why + "; transport-quic stays off and nodes reach their relay over WebSocket (feature transport-websocket)";
    }

    /** Netty's loader found no library file of this platform's name on the class path. */
    private static boolean missingFile(Throwable cause) {
        for (Throwable t = cause; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof FileNotFoundException) {
                return true;
            }
        }
        return false;
    }

    private static String rootMessage(Throwable cause) {
        if (cause == null) {
            return "no reason given";
        }
        Throwable root = cause;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String message = root.getMessage() == null ? root.toString() : root.getMessage();
        return message.replaceAll("\\s+", " "); // one log line
    }
}
