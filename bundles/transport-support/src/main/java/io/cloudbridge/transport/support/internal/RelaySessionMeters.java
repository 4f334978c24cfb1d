package io.cloudbridge.transport.support.internal;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;

/**
 * The node's dials of its relay, one per connection attempt of a
 * {@link io.cloudbridge.transport.support.RelaySession} (a session's first and each redial), as
 * Micrometer meters while a registry is there: {@code cloudbridge.relay.session.attempts} by
 * {@code transport} (the plugin's name: quic, websocket) and {@code outcome} (established; refused,
 * the relay turned the node away for good; busy, the relay asked it to come back later; failed,
 * anything else), and {@code cloudbridge.relay.session.establish}, a dial's time until the relay
 * accepted the node, as a histogram with fixed buckets.
 *
 * <p>Counted here, where every transport's sessions decide their dials' outcomes, and not in the
 * paths, which own the relay sessions: the paths come with the overlay, this bundle with a
 * transport plugin, and the paths must not need a transport installed (nor be rewired when one is
 * removed). The counts are this bundle's, shared by every plugin's sessions (static: the sessions
 * are made by the plugins, which cannot reach a component); a transport's meters appear with its
 * first dial, so a relay, which has this bundle and dials nothing, exports none. Dials are rare,
 * so each takes this component's lock.
 */
@Component(service = {}, immediate = true)
public final class RelaySessionMeters {
    /** How a dial ended. */
    public enum Outcome {
        ESTABLISHED, FAILED, BUSY, REFUSED;

        final String label = name().toLowerCase(Locale.ROOT);
    }

    /** A relay answers in a few round trips; QUIC's packet size is found after the dial and is not in it. */
    static final Duration[] ESTABLISH_BUCKETS = {Duration.ofMillis(100), Duration.ofMillis(250), Duration.ofMillis(500),
            Duration.ofSeconds(1), Duration.ofMillis(2500), Duration.ofSeconds(5), Duration.ofSeconds(10)};

    /** Dials by transport name, then outcome; any thread. */
    private static final Map<String, Map<Outcome, LongAdder>> DIALS = new ConcurrentHashMap<>();
    /** The component while it has a registry: the sessions' dials are timed there. */
    private static volatile RelaySessionMeters withRegistry;

    private final List<Meter> registered = new ArrayList<>();
    private final Map<String, Timer> establishTimers = new HashMap<>();
    private MeterRegistry registry;

    /** A dial over {@code transport} ended with {@code outcome}, {@code nanos} after it started; any thread. */
    public static void dialEnded(String transport, Outcome outcome, long nanos) {
        dials(transport).get(outcome).increment();
        RelaySessionMeters meters = withRegistry;
        if (meters != null) {
            meters.dialled(transport, outcome, nanos);
        }
    }

    private static Map<Outcome, LongAdder> dials(String transport) {
        return DIALS.computeIfAbsent(transport, t -> {
            Map<Outcome, LongAdder> byOutcome = new EnumMap<>(Outcome.class);
            for (Outcome o : Outcome.values()) {
                byOutcome.put(o, new LongAdder());
            }
            return byOutcome;
        });
    }

    private synchronized void dialled(String transport, Outcome outcome, long nanos) {
        if (registry == null) {
            return; // unbound since the dial looked
        }
        Timer timer = establishTimers.get(transport);
        if (timer == null) {
            timer = registerTransport(transport); // its first dial
        }
        if (outcome == Outcome.ESTABLISHED) {
            timer.record(nanos, TimeUnit.NANOSECONDS);
        }
    }

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY)
    synchronized void bindMeterRegistry(MeterRegistry newRegistry) {
        removeMeters();
        registry = newRegistry;
        DIALS.keySet().forEach(this::registerTransport);
        withRegistry = this;
    }

    synchronized void unbindMeterRegistry(MeterRegistry goingAway) {
        if (registry != goingAway) {
            return;
        }
        removeMeters();
        registry = null;
        if (withRegistry == this) {
            withRegistry = null;
        }
    }

    private Timer registerTransport(String transport) {
        Map<Outcome, LongAdder> byOutcome = dials(transport);
        for (Outcome o : Outcome.values()) {
            registered.add(FunctionCounter.builder("cloudbridge.relay.session.attempts", byOutcome.get(o), LongAdder::sum)
                    .tags("transport", transport, "outcome", o.label).description("Dials of the relay, by transport and outcome")
                    .register(registry));
        }
        Timer timer = Timer.builder("cloudbridge.relay.session.establish").tag("transport", transport)
                .serviceLevelObjectives(ESTABLISH_BUCKETS).description("Time from a dial of the relay until it accepted the node")
                .register(registry);
        registered.add(timer);
        establishTimers.put(transport, timer);
        return timer;
    }

    private void removeMeters() {
        if (registry != null) {
            registered.forEach(registry::remove);
        }
        registered.clear();
        establishTimers.clear();
    }
}
