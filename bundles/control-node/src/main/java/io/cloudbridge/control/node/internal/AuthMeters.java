package io.cloudbridge.control.node.internal;

import io.grpc.Status;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/**
 * How the relay answered this node's sign-ins, as Micrometer meters while a registry is there:
 * {@code cloudbridge.auth.registrations} (each sign-in that reached for the relay, once: the
 * Register call's answer, or the refresh-token exchange's before it when that ended the sign-in),
 * {@code cloudbridge.auth.token.renewals} (each renewal of the node token) and
 * {@code cloudbridge.auth.key.rotations} (the registrations of a new WireGuard key, which are
 * registrations too), by {@code outcome} and {@code reason}. The relay counts the same families
 * for its side, with the same tags; the {@code role} tag tells them apart.
 *
 * <p>The reason is one of a fixed few, from the call's status code, never the relay's words:
 * a refusal is the relay answering no (the credential, the key's proof, its budget), a failure is
 * the relay not reached, not answering in time, or failing on its side.
 */
final class AuthMeters {
    enum Outcome {
        ACCEPTED, REFUSED, FAILED;

        final String label = name().toLowerCase(Locale.ROOT);
    }

    enum Reason {
        NONE(Outcome.ACCEPTED),
        UNAUTHENTICATED(Outcome.REFUSED),
        PERMISSION_DENIED(Outcome.REFUSED),
        RESOURCE_EXHAUSTED(Outcome.REFUSED),
        /** The relay's answer to a key another node holds (key_taken, on the relay's side). */
        ALREADY_EXISTS(Outcome.REFUSED),
        /** The relay's answer to a registration it cannot take as sent (bad_node_info). */
        INVALID_ARGUMENT(Outcome.REFUSED),
        /** The relay's answer to a sign-in method it does not offer (oidc_not_configured). */
        UNIMPLEMENTED(Outcome.REFUSED),
        UNAVAILABLE(Outcome.FAILED),
        DEADLINE_EXCEEDED(Outcome.FAILED),
        OTHER(Outcome.FAILED);

        final Outcome outcome;
        final String label = name().toLowerCase(Locale.ROOT);

        Reason(Outcome outcome) {
            this.outcome = outcome;
        }

        static Reason of(Status.Code code) {
            return switch (code) {
                case UNAUTHENTICATED -> UNAUTHENTICATED;
                case PERMISSION_DENIED -> PERMISSION_DENIED;
                case RESOURCE_EXHAUSTED -> RESOURCE_EXHAUSTED;
                case ALREADY_EXISTS -> ALREADY_EXISTS;
                case INVALID_ARGUMENT -> INVALID_ARGUMENT;
                case UNIMPLEMENTED -> UNIMPLEMENTED;
                case UNAVAILABLE -> UNAVAILABLE;
                case DEADLINE_EXCEEDED -> DEADLINE_EXCEEDED;
                default -> OTHER;
            };
        }
    }

    private final Map<Reason, LongAdder> registrations = adders(Reason.class);
    private final Map<Reason, LongAdder> renewals = adders(Reason.class);
    private final Map<Reason, LongAdder> rotations = adders(Reason.class);
    private final List<Meter> registered = new ArrayList<>();
    private MeterRegistry registry;

    /** A registration ended: {@code rotation} when it registered another key than the one last registered. */
    void registration(Reason reason, boolean rotation) {
        registrations.get(reason).increment();
        if (rotation) {
            rotations.get(reason).increment();
        }
    }

    void renewal(Reason reason) {
        renewals.get(reason).increment();
    }

    synchronized void bind(MeterRegistry newRegistry) {
        removeMeters();
        registry = newRegistry;
        for (Reason r : Reason.values()) {
            register("cloudbridge.auth.registrations", registrations.get(r), r, "Registrations with the relay, by its answer");
            register("cloudbridge.auth.token.renewals", renewals.get(r), r, "Renewals of the node token, by the relay's answer");
            register("cloudbridge.auth.key.rotations", rotations.get(r), r, "Registrations of a new WireGuard key, by the relay's answer");
        }
    }

    synchronized void unbind(MeterRegistry goingAway) {
        if (registry == goingAway) {
            removeMeters();
            registry = null;
        }
    }

    private void register(String name, LongAdder count, Reason reason, String description) {
        registered.add(FunctionCounter.builder(name, count, LongAdder::sum).tags("outcome", reason.outcome.label, "reason", reason.label)
                .description(description).register(registry));
    }

    private void removeMeters() {
        if (registry != null) {
            registered.forEach(registry::remove);
        }
        registered.clear();
    }

    private static <E extends Enum<E>> Map<E, LongAdder> adders(Class<E> keys) {
        Map<E, LongAdder> out = new EnumMap<>(keys);
        for (E key : keys.getEnumConstants()) {
            out.put(key, new LongAdder());
        }
        return out;
    }
}
