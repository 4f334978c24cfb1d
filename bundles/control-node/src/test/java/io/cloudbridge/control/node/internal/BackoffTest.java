package io.cloudbridge.control.node.internal;

import static io.cloudbridge.control.node.internal.ControlTestKit.HIGHEST;
import static io.cloudbridge.control.node.internal.ControlTestKit.LOWEST;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.Test;

/** The session's own backoff and the relay's hint as a floor to it, at the extremes the jitter can reach. */
class BackoffTest {
    @Test
    void theWaitDoublesWithEachFailureAndIsJitteredWithinItsUpperHalf() {
        assertEquals(500, Backoff.retryWait(1, 30_000, 0, LOWEST), "a first failure: half a second at the least");
        assertEquals(1000, Backoff.retryWait(1, 30_000, 0, HIGHEST), "and one second at the most");
        assertEquals(2000, Backoff.retryWait(2, 30_000, 0, HIGHEST));
        assertEquals(4000, Backoff.retryWait(3, 30_000, 0, HIGHEST));
        assertEquals(2000, Backoff.retryWait(3, 30_000, 0, LOWEST));
        for (int failures = 1; failures <= 12; failures++) {
            long full = Math.min(30_000, 500L << Math.min(failures, 10));
            for (int i = 0; i < 200; i++) {
                long wait = Backoff.retryWait(failures, 30_000, 0, ThreadLocalRandom.current());
                assertTrue(wait >= full / 2 && wait <= full, failures + " failures: " + wait + " ms");
            }
        }
    }

    @Test
    void theCapHoldsHoweverLongTheRelayHasBeenGone() {
        assertEquals(30_000, Backoff.retryWait(9, 30_000, 0, HIGHEST));
        assertEquals(30_000, Backoff.retryWait(1_000, 30_000, 0, HIGHEST), "no overflow from a long outage");
        assertEquals(15_000, Backoff.retryWait(1_000, 30_000, 0, LOWEST));
        assertEquals(512_000, Backoff.retryWait(1_000, 3_600_000, 0, HIGHEST), "ten doublings at most, whatever the cap");
    }

    @Test
    void theRelaysHintIsAFloorEvenBeyondTheCapAndIsJitteredToo() {
        assertEquals(60_000, Backoff.retryWait(1, 30_000, 60_000, LOWEST));
        assertEquals(75_000, Backoff.retryWait(1, 30_000, 60_000, HIGHEST), "up to a quarter more, so told nodes spread out");
        assertEquals(16_000, Backoff.retryWait(5, 30_000, 100, HIGHEST), "a hint shorter than the backoff changes nothing");
        assertEquals(8_000, Backoff.retryWait(5, 30_000, 0, LOWEST), "no hint: the backoff alone");
    }

    @Test
    void jitterAddsUpToAQuarter() {
        assertEquals(4000, Backoff.jitter(4000, LOWEST));
        assertEquals(5000, Backoff.jitter(4000, HIGHEST));
        assertEquals(3, Backoff.jitter(3, HIGHEST), "too short to spread");
    }
}
