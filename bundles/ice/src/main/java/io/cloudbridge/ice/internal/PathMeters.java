package io.cloudbridge.ice.internal;

import io.cloudbridge.api.mesh.PathKind;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

/**
 * Hole punching's figures as Micrometer meters, while a registry is there:
 * <ul>
 * <li>{@code cloudbridge.path.attempts}: path attempts by how they ended ({@code outcome}
 * established or failed) and the kind of pair selected ({@code kind} direct, turn or masque; a
 * failed attempt selected none, and is counted under direct, the path hole punching is for);
 * <li>{@code cloudbridge.path.establish}: an attempt's time from its first round of checks to the
 * selection of a pair, by that pair's kind, as a histogram with fixed buckets;
 * <li>{@code cloudbridge.path.losses}: selected pairs given up because the peer stopped answering
 * consent checks, by kind.
 * </ul>
 * Counted on the engine's thread into adders that the counters read when scraped; a selection
 * records its time into the timer itself (a few per peer and hour). Kept by the component, not the
 * engine, so that a new configuration (a new engine) does not reset the counts.
 */
final class PathMeters {
    /** What a selected pair can be: the relay is not a pair ICE selects. */
    private static final List<PathKind> PAIR_KINDS = List.of(PathKind.DIRECT, PathKind.TURN, PathKind.MASQUE);
    /** A path is found in a few hundred ms on a LAN and a couple of seconds across NATs; a round gives up at 5 s. */
    static final Duration[] ESTABLISH_BUCKETS = {Duration.ofMillis(100), Duration.ofMillis(250), Duration.ofMillis(500),
            Duration.ofSeconds(1), Duration.ofMillis(2500), Duration.ofSeconds(5), Duration.ofSeconds(10)};

    private static final String ATTEMPTS = "Hole punching's path attempts, by outcome and the kind of pair selected";

    private final Map<PathKind, LongAdder> established = new EnumMap<>(PathKind.class);
    private final Map<PathKind, LongAdder> lost = new EnumMap<>(PathKind.class);
    private final LongAdder failed = new LongAdder();
    private final List<Meter> registered = new ArrayList<>();
    /** Read on the engine's thread when an attempt ends: empty while no registry is bound. */
    private volatile Map<PathKind, Timer> establishTimers = Map.of();
    private MeterRegistry registry;

    PathMeters() {
        for (PathKind kind : PAIR_KINDS) {
            established.put(kind, new LongAdder());
            lost.put(kind, new LongAdder());
        }
    }

    /**
     * An attempt selected a pair of {@code kind}, {@code tookNanos} after it started, or a pair was
     * selected with no attempt under way ({@code tookNanos} negative: the peer nominated a pair that
     * had answered before), which is counted but not timed.
     */
    void established(PathKind kind, long tookNanos) {
        established.get(kind).increment();
        Timer timer = establishTimers.get(kind);
        if (timer != null && tookNanos >= 0) {
            timer.record(tookNanos, TimeUnit.NANOSECONDS);
        }
    }

    /** A round of checks ended without a pair selected. */
    void failed() {
        failed.increment();
    }

    /** A selected pair of {@code kind} stopped answering consent checks. */
    void lost(PathKind kind) {
        lost.get(kind).increment();
    }

    synchronized void bind(MeterRegistry newRegistry) {
        removeMeters();
        registry = newRegistry;
        Map<PathKind, Timer> timers = new EnumMap<>(PathKind.class);
        for (PathKind kind : PAIR_KINDS) {
            String label = label(kind);
            registered.add(FunctionCounter.builder("cloudbridge.path.attempts", established.get(kind), LongAdder::sum)
                    .tags("kind", label, "outcome", "established").description(ATTEMPTS).register(newRegistry));
            registered.add(FunctionCounter.builder("cloudbridge.path.losses", lost.get(kind), LongAdder::sum).tag("kind", label)
                    .description("Selected paths to peers that stopped answering consent checks").register(newRegistry));
            Timer timer = Timer.builder("cloudbridge.path.establish").tag("kind", label).serviceLevelObjectives(ESTABLISH_BUCKETS)
                    .description("Time from a path attempt's first checks to the selection of a pair").register(newRegistry);
            registered.add(timer);
            timers.put(kind, timer);
        }
        registered.add(FunctionCounter.builder("cloudbridge.path.attempts", failed, LongAdder::sum)
                .tags("kind", label(PathKind.DIRECT), "outcome", "failed")
                .description(ATTEMPTS).register(newRegistry));
        establishTimers = timers;
    }

    synchronized void unbind(MeterRegistry goingAway) {
        if (registry == goingAway) {
            removeMeters();
            registry = null;
        }
    }

    private void removeMeters() {
        establishTimers = Map.of();
        if (registry != null) {
            registered.forEach(registry::remove);
        }
        registered.clear();
    }

    private static String label(PathKind kind) {
        return kind.name().toLowerCase(Locale.ROOT);
    }
}
