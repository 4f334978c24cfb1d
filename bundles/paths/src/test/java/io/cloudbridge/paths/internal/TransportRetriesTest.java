package io.cloudbridge.paths.internal;

import static io.cloudbridge.paths.internal.PathsTestKit.config;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.api.transport.RelayBusyException;
import io.cloudbridge.paths.internal.PathsTestKit.TestTransport;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** The backoff a failed first connection sets a transport aside for, and the relay's own waits. */
class TransportRetriesTest {
    private static final long NOW = 5_000_000_000L;

    private final AtomicReference<PathsConfig> config = new AtomicReference<>(config(250, 1000, 30_000, 3000));
    private final TransportRetries retries = new TransportRetries(config::get);
    private final TestTransport quic = new TestTransport("quic", 10, "quic");
    private final TestTransport websocket = new TestTransport("websocket", 20, "wss");

    @Test
    void aFailedFirstConnectionSetsTheTransportAsideForABackoffThatDoublesUpToTheMaximum() {
        assertFalse(retries.setAside(quic, NOW), "never failed: tried at once");
        assertEquals(-1, retries.failed(quic, new IOException("connection refused"), NOW), "not the relay's wait: the backoff");
        assertAsideFor(1000, quic, NOW);
        assertFalse(retries.setAside(websocket, NOW), "another transport is not set aside with it");

        long[] expected = {2000, 4000, 8000, 16_000, 30_000, 30_000};
        for (long millis : expected) {
            retries.failed(quic, new IOException("connection refused"), NOW);
            assertAsideFor(millis, quic, NOW);
        }
        for (int i = 0; i < 100; i++) {
            assertEquals(30_000, retries.backOff(quic, NOW), "no overflow however long it keeps failing");
        }
    }

    @Test
    void theBackoffFollowsTheConfigurationInForceAtEachFailure() {
        retries.backOff(quic, NOW);
        config.set(config(250, 200, 500, 3000));
        assertEquals(400, retries.backOff(quic, NOW), "the second failure, with the new minimum");
        assertEquals(500, retries.backOff(quic, NOW), "bounded by the new maximum");
    }

    @Test
    void aBusyRelayIsTriedAgainExactlyWhenItAskedWithoutGrowingTheBackoff() {
        assertEquals(5000, retries.failed(quic, busy(5), NOW));
        assertAsideFor(5000, quic, NOW);
        assertEquals(7000, retries.failed(quic, new CompletionException(busy(7)), NOW), "the refusal found behind the stage's wrapper");
        assertAsideFor(7000, quic, NOW);

        retries.failed(quic, new IOException("reset"), NOW);
        assertAsideFor(1000, quic, NOW); // the busy refusals did not count as failures
    }

    @Test
    void theRelaysWaitIsKeptWithinTheConfiguredBounds() {
        assertEquals(1000, retries.failed(quic, busy(0), NOW), "at least the minimum, lest a relay have nodes dial in a loop");
        assertAsideFor(1000, quic, NOW);
        assertEquals(30_000, retries.failed(websocket, busy(3600), NOW), "at most the maximum");
        assertAsideFor(30_000, websocket, NOW);
    }

    @Test
    void afterThreeBusyRefusalsInARowTheBackoffGrowsInstead() {
        for (int i = 0; i < TransportRetries.BUSY_REFUSALS_HONOURED; i++) {
            assertEquals(5000, retries.failed(quic, busy(5), NOW), "refusal " + (i + 1));
        }
        assertEquals(-1, retries.failed(quic, busy(5), NOW), "the fourth: still busy, so something is wrong with it");
        assertAsideFor(1000, quic, NOW);
        assertEquals(-1, retries.failed(quic, busy(5), NOW));
        assertAsideFor(2000, quic, NOW);
        assertEquals(5000, retries.failed(websocket, busy(5), NOW), "counted per transport");
    }

    @Test
    void aConnectionForgetsWhatWentWrongBefore() {
        retries.failed(quic, new IOException("refused"), NOW);
        retries.failed(quic, new IOException("refused"), NOW);
        for (int i = 0; i < TransportRetries.BUSY_REFUSALS_HONOURED; i++) {
            retries.failed(quic, busy(5), NOW);
        }
        retries.connected(quic);
        assertFalse(retries.setAside(quic, NOW), "connected: not set aside any more");
        for (int i = 0; i < TransportRetries.BUSY_REFUSALS_HONOURED; i++) {
            assertEquals(5000, retries.failed(quic, busy(5), NOW), "busy refusals counted afresh");
        }
        retries.connected(quic);
        retries.failed(quic, new IOException("refused"), NOW);
        assertAsideFor(1000, quic, NOW); // the backoff starts over
    }

    @Test
    void aNewWayOutForgetsEveryTransportsFailures() {
        retries.failed(quic, new IOException("refused"), NOW);
        retries.failed(quic, new IOException("refused"), NOW);
        retries.failed(websocket, busy(9), NOW);
        retries.clear();
        assertFalse(retries.setAside(quic, NOW));
        assertFalse(retries.setAside(websocket, NOW));
        retries.failed(quic, new IOException("refused"), NOW);
        assertAsideFor(1000, quic, NOW);
    }

    private static RelayBusyException busy(long seconds) {
        return new RelayBusyException("the relay's control plane is busy", Duration.ofSeconds(seconds));
    }

    /** Set aside until exactly {@code millis} after {@code now}, and no longer. */
    private void assertAsideFor(long millis, TestTransport t, long now) {
        long until = now + TimeUnit.MILLISECONDS.toNanos(millis);
        assertTrue(retries.setAside(t, until - 1), t.name() + " set aside for less than " + millis + " ms");
        assertFalse(retries.setAside(t, until), t.name() + " set aside for more than " + millis + " ms");
    }
}
