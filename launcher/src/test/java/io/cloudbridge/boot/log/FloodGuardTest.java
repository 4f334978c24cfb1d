package io.cloudbridge.boot.log;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class FloodGuardTest {
    private final AtomicLong now = new AtomicLong(1_000_000_000L);
    private final FloodGuard guard = new FloodGuard(now::get);

    @Test
    void aFloodOfOneKindIsCutToTheBurstThenTheRateAndTheLeftOutAreCounted() {
        int written = 0;
        for (int i = 0; i < 10_000; i++) {
            if (guard.admit("control request refused: {} (from {})") >= 0) {
                written++;
            }
        }
        assertEquals(FloodGuard.BURST, written, "a burst, then nothing within the same instant");
        now.addAndGet(1_000_000_000L); // a second later: the rate's worth of lines
        assertEquals(10_000 - FloodGuard.BURST, guard.admit("control request refused: {} (from {})"),
                "the first line after the flood says how many were left out");
        for (int i = 1; i < FloodGuard.PER_SECOND; i++) {
            assertEquals(0, guard.admit("control request refused: {} (from {})"));
        }
        assertEquals(-1, guard.admit("control request refused: {} (from {})"));
    }

    @Test
    void otherKindsAreNotHeldBackByAFlood() {
        for (int i = 0; i < 1_000; i++) {
            guard.admit("relay session refused: {}");
        }
        assertEquals(0, guard.admit("node {} of tenant {} removed; its token is void"));
    }

    @Test
    void onlyTheSecurityLogIsGuarded() {
        assertTrue(FloodGuard.guards("io.cloudbridge.security"));
        assertFalse(FloodGuard.guards("io.cloudbridge.relay.internal.TenantSwitch"));
        assertFalse(FloodGuard.guards("io.cloudbridge.kernel.internal.feature.FeatureManager"));
    }
}
