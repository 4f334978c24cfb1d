package io.cloudbridge.relay.internal;

import io.cloudbridge.api.relay.ForwardResult;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.BaseUnits;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.function.Function;
import java.util.function.ToDoubleFunction;

/**
 * The relay data plane's figures as Micrometer meters, while a registry is there: the switch's
 * forwarded packets and bytes ({@code cloudbridge.relay.forwarded.*}), the packets it dropped and
 * the STUN datagrams the responder dropped ({@code cloudbridge.relay.drops}, by a fixed set of
 * reasons), and per transport the sessions attached now ({@code cloudbridge.relay.sessions}) and
 * since the start ({@code cloudbridge.relay.session.accepts}, outcome accepted; the refusals are
 * the control plane's, which checks the sessions' tokens). The meters read the components' own
 * counters when scraped; the data path never touches Micrometer.
 */
final class RelayMeters {
    static final String DROPS = "cloudbridge.relay.drops";
    static final String SESSIONS = "cloudbridge.relay.sessions";
    /** Shared with the control plane's meters, which count the refusals: one description for the one series. */
    static final String SESSION_ACCEPTS = "cloudbridge.relay.session.accepts";
    static final String SESSION_ACCEPTS_DESCRIPTION = "Relay sessions accepted (attached to the switch, by transport)"
            + " or refused (by the relay's check of their token, whichever transport presented it)";
    /** What the responder sends nothing back to: everything but an answer and the 420 error it sends for unknown attributes. */
    static final Set<StunBinding.Outcome> STUN_DROPS = EnumSet.complementOf(
            EnumSet.of(StunBinding.Outcome.ANSWERED, StunBinding.Outcome.REFUSED_UNKNOWN_ATTRIBUTES));

    private final Function<MeterRegistry, List<Meter>> fixed;
    private final List<Meter> meters = new ArrayList<>();
    private MeterRegistry registry;

    private RelayMeters(Function<MeterRegistry, List<Meter>> fixed) {
        this.fixed = fixed;
    }

    /** The switch's meters, with those of every transport it knows (see {@link #transportAppeared}). */
    static RelayMeters of(TenantSwitch packetSwitch) {
        return new RelayMeters(registry -> switchMeters(packetSwitch, registry));
    }

    /** The STUN responder's drops. */
    static RelayMeters of(StunListener stun) {
        return new RelayMeters(registry -> stunMeters(stun, registry));
    }

    synchronized void bind(MeterRegistry newRegistry) {
        removeAll();
        registry = newRegistry;
        meters.addAll(fixed.apply(newRegistry));
    }

    synchronized void unbind(MeterRegistry goingAway) {
        if (registry == goingAway) {
            removeAll();
            registry = null;
        }
    }

    /**
     * A transport the switch had not met: its meters join while a registry is there. A registry
     * bound meanwhile has them already (the switch knew the name first); registering them again
     * finds the same meters.
     */
    synchronized void transportAppeared(TenantSwitch packetSwitch, String transport) {
        if (registry != null) {
            meters.addAll(transportMeters(packetSwitch, transport, registry));
        }
    }

    private void removeAll() {
        if (registry != null) {
            meters.forEach(registry::remove);
        }
        meters.clear();
    }

    private static List<Meter> switchMeters(TenantSwitch packetSwitch, MeterRegistry registry) {
        List<Meter> out = new ArrayList<>();
        out.add(FunctionCounter.builder("cloudbridge.relay.forwarded.packets", packetSwitch, s -> s.outcome(ForwardResult.FORWARDED))
                .description("Packets the relay handed to their destination's session").register(registry));
        out.add(FunctionCounter.builder("cloudbridge.relay.forwarded.bytes", packetSwitch, TenantSwitch::bytesForwarded)
                .baseUnit(BaseUnits.BYTES).description("Bytes of the packets the relay forwarded").register(registry));
        for (ForwardResult result : ForwardResult.values()) {
            if (result != ForwardResult.FORWARDED) {
                out.add(drop(packetSwitch, s -> s.outcome(result), result.name().toLowerCase(Locale.ROOT), registry));
            }
        }
        for (String transport : packetSwitch.transports()) {
            out.addAll(transportMeters(packetSwitch, transport, registry));
        }
        return out;
    }

    private static List<Meter> transportMeters(TenantSwitch packetSwitch, String transport, MeterRegistry registry) {
        return List.of(
                Gauge.builder(SESSIONS, packetSwitch, s -> s.sessions(transport)).tag("transport", transport)
                        .description("Relay sessions attached to the switch now").register(registry),
                FunctionCounter.builder(SESSION_ACCEPTS, packetSwitch, s -> s.attaches(transport))
                        .tags("transport", transport, "outcome", "accepted", "reason", "none")
                        .description(SESSION_ACCEPTS_DESCRIPTION).register(registry));
    }

    private static List<Meter> stunMeters(StunListener stun, MeterRegistry registry) {
        List<Meter> out = new ArrayList<>();
        // Answers withheld from a source over its rate: counted as this, not as the outcome they would have had.
        out.add(drop(stun, StunListener::rateLimited, "stun_rate_limited", registry));
        for (StunBinding.Outcome outcome : STUN_DROPS) {
            out.add(drop(stun, l -> l.outcome(outcome), "stun_" + outcome.name().toLowerCase(Locale.ROOT), registry));
        }
        return out;
    }

    private static <T> Meter drop(T counted, ToDoubleFunction<T> count, String reason, MeterRegistry registry) {
        return FunctionCounter.builder(DROPS, counted, count).tag("reason", reason)
                .description("Packets the relay's switch dropped, and datagrams its STUN responder dropped (reasons stun_*)")
                .register(registry);
    }
}
