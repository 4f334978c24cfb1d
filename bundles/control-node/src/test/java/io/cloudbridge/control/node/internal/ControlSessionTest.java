package io.cloudbridge.control.node.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.control.node.internal.ControlTestKit.QueueingScheduler;
import io.grpc.Status;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The session's one rule for trying again: what it says, what it counts, when it comes back. */
class ControlSessionTest {
    @TempDir
    Path state;
    private final QueueingScheduler scheduler = new QueueingScheduler();
    private ControlSession session;
    private final Runnable again = () -> { };

    @BeforeEach
    void start() {
        session = ControlTestKit.session(state, ControlTestKit.config("relay.example:7443", "node-a", "", 30), scheduler);
    }

    @AfterEach
    void stop() {
        scheduler.shutdownNow();
    }

    @Test
    void aFailureIsCountedSaidAndTriedAgainAfterAGrowingWait() {
        session.retry("registration failed: UNAVAILABLE", again, false);
        assertEquals(1, session.failures);
        assertEquals("registration failed: UNAVAILABLE; retrying", session.status);
        QueueingScheduler.Task first = scheduler.only();
        assertSame(again, first.command());
        assertTrue(first.delayMillis() >= 500 && first.delayMillis() <= 1000, first.delayMillis() + " ms");

        scheduler.tasks.clear();
        session.retry("registration failed: UNAVAILABLE", again, false);
        long second = scheduler.only().delayMillis();
        assertTrue(second >= 1000 && second <= 2000, "the second wait doubles: " + second + " ms");
    }

    @Test
    void aCredentialProblemIsSaidButNotRetried() {
        session.retry("registration failed: UNAUTHENTICATED", again, true);
        assertEquals("registration failed: UNAUTHENTICATED", session.status, "no promise of a retry");
        assertEquals(1, session.failures);
        assertTrue(scheduler.tasks.isEmpty(), "a refused credential is not offered again");
    }

    @Test
    void theConfiguredCapAndTheRelaysHintBoundTheWait() {
        session.config = ControlTestKit.config("relay.example:7443", "node-a", "", 2);
        session.failures = 20;
        session.retry("map stream ended", again, false);
        long capped = scheduler.only().delayMillis();
        assertTrue(capped >= 1000 && capped <= 2000, "control.maxBackoffSeconds=2: " + capped + " ms");

        scheduler.tasks.clear();
        session.retry("registration failed: RESOURCE_EXHAUSTED", again, false, 60_000);
        long hinted = scheduler.only().delayMillis();
        assertTrue(hinted >= 60_000 && hinted <= 75_000, "the relay's 60 s, jittered: " + hinted + " ms");
    }

    @Test
    void aFailedCallIsDescribedByCodeDescriptionAndCause() {
        assertEquals("UNAVAILABLE", ControlSession.describe(Status.UNAVAILABLE));
        assertEquals("PERMISSION_DENIED (stale proof)", ControlSession.describe(Status.PERMISSION_DENIED.withDescription("stale proof")));
        assertEquals("UNAVAILABLE (io exception): Connection refused", ControlSession.describe(
                Status.UNAVAILABLE.withDescription("io exception").withCause(new java.net.ConnectException("Connection refused"))
                        .asRuntimeException()));
    }
}
