package io.cloudbridge.relay.internal;

import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Which of a listener's routes (HTTP paths, QUIC protocols) are likely coming back: removed within
 * listeners.routeRestartSeconds, or not served yet within that time of the listener's start (a
 * listener refreshed with its bundle listens before the plugins' routes are back, their components
 * waiting for the control plane). A node asking for one hears "come back later", not "not served
 * here", which would make it set the transport aside.
 */
final class RouteRestarts {
    private final boolean perRoute;
    /** When each route that is not served now last went (System.nanoTime()). */
    private final Map<String, Long> removedAt = new ConcurrentHashMap<>();
    /** The routes served since the listener started. */
    private final Set<String> served = ConcurrentHashMap.newKeySet();
    private volatile long windowNanos = TimeUnit.SECONDS.toNanos(30);
    private volatile long startedAt = System.nanoTime();

    /**
     * {@code perRoute}: after the start, a route is "coming" until it has been served itself (a
     * fixed set of keys, as QUIC's protocols); otherwise until any route has been (HTTP, where any
     * path may be asked, and one not served anywhere must soon be 404).
     */
    RouteRestarts(boolean perRoute) {
        this.perRoute = perRoute;
    }

    void started(int windowSeconds) {
        windowNanos = TimeUnit.SECONDS.toNanos(Math.max(0, windowSeconds));
        startedAt = System.nanoTime();
    }

    void served(String route) {
        removedAt.remove(route);
        served.add(route);
    }

    void removed(String route) {
        removedAt.put(route, System.nanoTime());
    }

    /** Whether {@code route}, not served now, is likely coming back. */
    boolean restarting(String route) {
        long now = System.nanoTime();
        boolean servedYet = perRoute ? served.contains(route) : !served.isEmpty();
        if (!servedYet && now - startedAt < windowNanos) {
            return true;
        }
        Long at = removedAt.get(route);
        if (at == null) {
            return false;
        }
        if (now - at < windowNanos) {
            return true;
        }
        removedAt.remove(route, at); // its window is over: forgotten
        return false;
    }
}
