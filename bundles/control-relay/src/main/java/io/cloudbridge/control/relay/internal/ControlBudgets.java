package io.cloudbridge.control.relay.internal;

import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Instant;
import java.util.Optional;

/**
 * The call budgets of the control plane's callers, shared by every role that charges one
 * (registration, renewal, map opens): an overdrawn budget is a refusal that tells the caller when
 * to come back, counted with the other refusals.
 */
final class ControlBudgets {
    /** The retry hint, as gRPC's retry pushback (gRFC A6) names it: milliseconds. */
    static final Metadata.Key<String> RETRY_PUSHBACK = Metadata.Key.of("grpc-retry-pushback-ms", Metadata.ASCII_STRING_MARSHALLER);

    private final CallBudgets budgets = new CallBudgets();
    private final ControlRefusals refusals;

    ControlBudgets(ControlRefusals refusals) {
        this.refusals = refusals;
    }

    void charge(String remote, Instant now, CallBudgets.Charge... charges) {
        Optional<CallBudgets.Overdrawn> over = budgets.take(now, charges);
        if (over.isPresent()) {
            throw overBudget(over.get(), remote);
        }
    }

    /** As {@link #charge(String, Instant, CallBudgets.Charge...)}, for a sign-in: an overdrawn budget is counted as its refusal too. */
    void charge(AuthRefusal signIn, String remote, Instant now, CallBudgets.Charge... charges) {
        Optional<CallBudgets.Overdrawn> over = budgets.take(now, charges);
        if (over.isPresent()) {
            throw overBudget(over.get(), remote, signIn);
        }
    }

    /**
     * RESOURCE_EXHAUSTED naming the budget, with when to come back as text and as gRPC's retry pushback.
     *
     * @param signIns the sign-in refused, if it was one
     */
    StatusRuntimeException overBudget(CallBudgets.Overdrawn over, String remote, AuthRefusal... signIns) {
        long millis = over.retryAfter().toMillis();
        String reason = "too many " + over.what() + ": try again in " + Math.max(1, (millis + 999) / 1000) + " s";
        refusals.count(reason, signIns);
        ControlService.SECURITY.warn("control request refused: {} (from {})", reason, remote);
        Metadata trailers = new Metadata();
        trailers.put(RETRY_PUSHBACK, Long.toString(millis));
        return Status.RESOURCE_EXHAUSTED.withDescription(reason).asRuntimeException(trailers);
    }
}
