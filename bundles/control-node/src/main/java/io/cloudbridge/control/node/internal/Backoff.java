package io.cloudbridge.control.node.internal;

import io.grpc.Metadata;
import io.grpc.Status;
import java.util.Random;

/**
 * How long the control client waits before it calls the relay again: its own backoff, which
 * doubles with each failure up to a cap and is jittered, and the relay's retry hint, which is a
 * floor. Pure arithmetic, with the randomness passed in, so that the bounds can be checked.
 */
final class Backoff {
    /** The relay's retry hint: gRPC's retry pushback (gRFC A6), ms. */
    static final Metadata.Key<String> RETRY_PUSHBACK = Metadata.Key.of("grpc-retry-pushback-ms", Metadata.ASCII_STRING_MARSHALLER);
    /** A hint longer than this is taken as this: a wrong value must not park the node for hours. */
    static final long MAX_PUSHBACK_MILLIS = 300_000;

    private Backoff() {
    }

    /** How long the relay asked this node to wait before the call again (over one of its budgets), in ms; 0 without a hint. */
    static long pushbackMillis(Throwable t) {
        Metadata trailers = Status.trailersFromThrowable(t);
        String hint = trailers == null ? null : trailers.get(RETRY_PUSHBACK);
        if (hint == null) {
            return 0;
        }
        try {
            return Math.max(0, Math.min(MAX_PUSHBACK_MILLIS, Long.parseLong(hint.trim())));
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    /**
     * The session's wait after its {@code failures}-th failure in a row: between half and all of
     * 500 ms doubled per failure (at most ten doublings, and never over {@code capMillis}), so that
     * nodes that lost the relay together do not all come back together.
     *
     * @param atLeastMillis the relay's retry hint (0: none): waited out even beyond the cap, with jitter
     */
    static long retryWait(int failures, long capMillis, long atLeastMillis, Random random) {
        long wait = Math.min(capMillis, 500L << Math.min(failures, 10));
        wait = wait / 2 + random.nextLong(wait / 2 + 1);
        if (atLeastMillis > 0) {
            wait = Math.max(wait, jitter(atLeastMillis, random));
        }
        return wait;
    }

    /** {@code millis} and up to a quarter more: nodes told the same wait do not all come back in the same instant. */
    static long jitter(long millis, Random random) {
        return millis + random.nextLong(millis / 4 + 1);
    }
}
