package io.cloudbridge.api.transport;

import java.io.IOException;
import java.time.Duration;

/**
 * The relay refused the session for now and said when to come back: a plugin of its restarting,
 * its control plane unable to check tokens, too many sessions signing in at once. Unlike other
 * failures it says nothing against the transport, so a node dials again after {@link #retryAfter()}
 * instead of setting the transport aside for its growing backoff.
 */
public class RelayBusyException extends IOException {
    private static final long serialVersionUID = 1L;

    private final Duration retryAfter;

    public RelayBusyException(String reason, Duration retryAfter) {
        super(reason);
        if (retryAfter.isNegative()) { // and not null: the node needs a wait
            throw new IllegalArgumentException("a negative wait: " + retryAfter);
        }
        this.retryAfter = retryAfter;
    }

    /** When the relay asked to be tried again. */
    public Duration retryAfter() {
        return retryAfter;
    }
}
