package io.cloudbridge.boot.log;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class FloodGuardTest {
    private static final String REFUSED = "control request refused: {} (from {})";
    private final AtomicLong now = new AtomicLong(1_000_000_000L);
    private final FloodGuard guard = new FloodGuard(now::get);

    private long refused(String reason, String from) {
        return guard.admit(REFUSED, new Object[] {reason, from});
    }

    @Test
    void aFloodOfOneKindIsCutToTheBurstThenTheRateAndTheLeftOutAreCounted() {
        int written = 0;
        for (int i = 0; i < 10_000; i++) {
            if (refused("unknown pre-auth key", "192.0.2.1:" + i) >= 0) {
                written++;
            }
        }
        assertEquals(FloodGuard.BURST, written, "a burst, then nothing within the same instant");
        now.addAndGet(500_000_000L); // half a second later: half a second's worth of lines
        assertEquals(10_000 - FloodGuard.BURST, refused("unknown pre-auth key", "192.0.2.1:1"),
                "the first line after the flood says how many were left out");
        for (int i = 1; i < FloodGuard.PER_SECOND / 2; i++) {
            assertEquals(0, refused("unknown pre-auth key", "192.0.2.1:1"));
        }
        assertEquals(-1, refused("unknown pre-auth key", "192.0.2.1:1"));
    }

    @Test
    void otherReasonsAndOtherPatternsAreNotHeldBackByAFlood() {
        for (int i = 0; i < 1_000; i++) {
            refused("unknown pre-auth key", "192.0.2.1:1");
        }
        assertEquals(0, refused("node token revoked", "198.51.100.7:4"));
        assertEquals(0, guard.admit("node {} of tenant {} removed; its token is void", new Object[] {"n1", "acme"}));
    }

    @Test
    void aFloodThatStopsIsReportedOnceItHasBeenQuietForASecond() {
        for (int i = 0; i < 80; i++) {
            refused("unknown pre-auth key", "192.0.2.1:1");
        }
        assertTrue(guard.quietReports().isEmpty(), "still flooding");
        now.addAndGet(1_500_000_000L);
        List<String> reports = guard.quietReports();
        assertEquals(List.of(FloodGuard.report(30, REFUSED + " [unknown pre-auth key]")), reports);
        assertTrue(guard.quietReports().isEmpty(), "reported once");
    }

    @Test
    void reasonsTheCallerWritesCannotMakeKindsWithoutBound() {
        for (int i = 0; i < FloodGuard.MAX_KINDS + 5_000; i++) {
            refused("bad alg " + i, "192.0.2.1:1");
        }
        int written = 0;
        for (int i = 0; i < 1_000; i++) {
            if (refused("bad alg x" + i, "192.0.2.1:1") >= 0) {
                written++;
            }
        }
        assertEquals(0, written, "past the bound, new reasons share their pattern's kind, which is spent");
    }

    @Test
    void onlyTheSecurityLogIsGuarded() {
        assertTrue(FloodGuard.guards("io.cloudbridge.security"));
        assertFalse(FloodGuard.guards("io.cloudbridge.relay.internal.TenantSwitch"));
        assertFalse(FloodGuard.guards("io.cloudbridge.kernel.internal.feature.FeatureManager"));
    }
}
