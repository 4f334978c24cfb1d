package io.cloudbridge.boot.feature;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Whether the launcher is still starting the boot set's bundles. The admin socket answers as soon
 * as the shell bundle is up, well before the last bundle is started: status must not call the
 * bundles that are simply not started yet a problem, and a feature change must not uninstall a
 * bundle the launcher is about to start (that ended the daemon). A runtime that no launcher
 * started (an embedded framework, a test) is never "starting".
 */
public final class StartProgress {
    private static volatile CountDownLatch started = new CountDownLatch(0);

    private StartProgress() {
    }

    /** Called by the launcher before it installs the boot set. */
    public static void begin() {
        started = new CountDownLatch(1);
    }

    /** Called by the launcher once every bundle of the boot set was started (or failed to). */
    public static void finish() {
        started.countDown();
    }

    public static boolean starting() {
        return started.getCount() > 0;
    }

    /** Waits until the start is done; false when {@code limit} passed first. */
    public static boolean awaitStarted(Duration limit) throws InterruptedException {
        return started.await(limit.toMillis(), TimeUnit.MILLISECONDS);
    }
}
