package io.cloudbridge.control.relay.internal;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.ArrayList;
import java.util.List;
import java.util.function.ToDoubleFunction;

/**
 * The control plane's sign-ins as Micrometer meters, while a registry is there and the control
 * service runs: registrations ({@code cloudbridge.auth.registrations}), token renewals
 * ({@code cloudbridge.auth.token.renewals}) and key rotations ({@code cloudbridge.auth.key.rotations}),
 * accepted or refused for one of the fixed {@link AuthRefusal}s; and the relay sessions its token
 * check refused ({@code cloudbridge.relay.session.accepts}, outcome refused). Every transport asks
 * that check without saying which it is, so those refusals carry transport {@value #ANY_TRANSPORT};
 * the data plane counts the sessions it accepts, by transport, under the same name. The meters read
 * the control service's own counters when scraped; no call touches Micrometer.
 *
 * <p>The control service is made when the component starts and goes when it stops, and a registry
 * may come before or after: the meters are there while both are.
 */
final class ControlMeters {
    static final String REGISTRATIONS = "cloudbridge.auth.registrations";
    static final String RENEWALS = "cloudbridge.auth.token.renewals";
    static final String ROTATIONS = "cloudbridge.auth.key.rotations";
    static final String SESSION_ACCEPTS = "cloudbridge.relay.session.accepts";
    static final String ANY_TRANSPORT = "unknown";

    private final List<Meter> meters = new ArrayList<>();
    private MeterRegistry registry;
    private ControlService service;

    synchronized void bind(MeterRegistry newRegistry) {
        removeAll();
        registry = newRegistry;
        registerAll();
    }

    synchronized void unbind(MeterRegistry goingAway) {
        if (registry == goingAway) {
            removeAll();
            registry = null;
        }
    }

    /** The control service started; null: it stopped, and its counts went with it. */
    synchronized void serving(ControlService started) {
        removeAll();
        service = started;
        registerAll();
    }

    private void registerAll() {
        if (registry == null || service == null) {
            return;
        }
        meters.add(accepted(AuthRefusal.SignIn.REGISTRATION, ControlService::registered));
        meters.add(accepted(AuthRefusal.SignIn.RENEWAL, ControlService::renewed));
        meters.add(accepted(AuthRefusal.SignIn.KEY_ROTATION, ControlService::rotated));
        for (AuthRefusal reason : AuthRefusal.values()) {
            FunctionCounter.Builder<ControlService> refused = counter(reason.signIn, s -> s.refused(reason))
                    .tags("outcome", "refused", "reason", reason.label);
            if (reason.signIn == AuthRefusal.SignIn.SESSION) {
                refused.tag("transport", ANY_TRANSPORT);
            }
            meters.add(refused.register(registry));
        }
    }

    private Meter accepted(AuthRefusal.SignIn signIn, ToDoubleFunction<ControlService> count) {
        return counter(signIn, count).tags("outcome", "accepted", "reason", "none").register(registry);
    }

    private FunctionCounter.Builder<ControlService> counter(AuthRefusal.SignIn signIn, ToDoubleFunction<ControlService> count) {
        return switch (signIn) {
            case REGISTRATION -> FunctionCounter.builder(REGISTRATIONS, service, count)
                    .description("Registrations (a node signing in with a pre-auth key, an access token or its own token)");
            case RENEWAL -> FunctionCounter.builder(RENEWALS, service, count)
                    .description("Node token renewals with a one-time refresh token");
            case KEY_ROTATION -> FunctionCounter.builder(ROTATIONS, service, count)
                    .description("Node key rotations: accepted once registered under the new key, refused for their proof");
            // The data plane's description of the same series (its RelayMeters), word for word: a series has one.
            case SESSION -> FunctionCounter.builder(SESSION_ACCEPTS, service, count)
                    .description("Relay sessions accepted (attached to the switch, by transport)"
                            + " or refused (by the relay's check of their token, whichever transport presented it)");
        };
    }

    private void removeAll() {
        if (registry != null) {
            meters.forEach(registry::remove);
        }
        meters.clear();
    }
}
