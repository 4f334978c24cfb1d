package io.cloudbridge.control.node.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.grpc.Metadata;
import io.grpc.Status;
import org.junit.jupiter.api.Test;

/** The relay's retry hint on a refusal for one of its budgets, as the node reads it before trying again. */
class RetryPushbackTest {
    private static io.grpc.StatusRuntimeException refused(String hint) {
        Metadata trailers = new Metadata();
        if (hint != null) {
            trailers.put(NodeControlClient.RETRY_PUSHBACK, hint);
        }
        return Status.RESOURCE_EXHAUSTED.withDescription("too many registrations in this tenant: try again in 3 s")
                .asRuntimeException(trailers);
    }

    @Test
    void theHintIsReadCappedAndIgnoredWhenMalformed() {
        assertEquals(2500, NodeControlClient.pushbackMillis(refused("2500")));
        assertEquals(0, NodeControlClient.pushbackMillis(refused(null)), "no hint: the node's own backoff alone");
        assertEquals(0, NodeControlClient.pushbackMillis(refused("soon")));
        assertEquals(0, NodeControlClient.pushbackMillis(refused("-5")));
        assertEquals(NodeControlClient.MAX_PUSHBACK_MILLIS, NodeControlClient.pushbackMillis(refused("86400000")),
                "a day's hint is taken as the cap");
        assertEquals(0, NodeControlClient.pushbackMillis(Status.UNAVAILABLE.asRuntimeException()));
    }
}
