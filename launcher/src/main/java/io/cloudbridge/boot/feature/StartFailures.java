package io.cloudbridge.boot.feature;

import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Why a bundle of a feature failed to start, by symbolic name: recorded by whoever started it (the
 * launcher at boot, the feature manager later) and read by status and health, which would
 * otherwise only see that the bundle is not active.
 */
public final class StartFailures {
    private static final Map<String, String> FAILURES = new ConcurrentHashMap<>();

    private StartFailures() {
    }

    public static void record(String symbolicName, String reason) {
        FAILURES.put(symbolicName, reason == null ? "unknown" : reason);
    }

    public static void clear(String symbolicName) {
        FAILURES.remove(symbolicName);
    }

    public static Optional<String> reason(String symbolicName) {
        return Optional.ofNullable(FAILURES.get(symbolicName));
    }
}
