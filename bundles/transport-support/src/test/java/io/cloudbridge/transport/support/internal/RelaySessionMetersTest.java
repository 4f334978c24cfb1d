package io.cloudbridge.transport.support.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.api.transport.PacketReceiver;
import io.cloudbridge.api.transport.PacketSession;
import io.cloudbridge.api.transport.RelayEndpoint;
import io.cloudbridge.api.transport.TransportState;
import io.cloudbridge.transport.support.Outbox;
import io.cloudbridge.transport.support.RelaySession;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.concurrent.DefaultEventExecutorGroup;
import java.net.URI;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Every dial of a relay session, the first and each redial, is counted once by how it ended, and
 * an established one is timed; a connected session's loss is no dial. The counts are this bundle's
 * and shared by every session, so each test dials over a transport name of its own.
 */
class RelaySessionMetersTest {
    private final DefaultEventExecutorGroup timers = new DefaultEventExecutorGroup(1);
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final RelaySessionMeters meters = new RelaySessionMeters();

    /** How a scripted dial ends, as a transport would report it. */
    enum Dial {
        CONNECTS, CANNOT_CONNECT, RELAY_BUSY, RELAY_REFUSES
    }

    /** A session whose dials end as the script says, at once; its backoff is a millisecond or two. */
    final class ScriptedSession extends RelaySession {
        private final String transport;
        private final ConcurrentLinkedDeque<Dial> script;

        ScriptedSession(String transport, Dial... dials) {
            super(new RelayEndpoint("relay", URI.create("quic://relay.example:7443"), Optional.empty()), new PacketReceiver() {
                @Override
                public void onPacket(NodeKey source, ByteBuffer packet) {
                }

                @Override
                public void onStateChanged(PacketSession session, TransportState state, String reason) {
                }
            }, timers, 1, 2);
            this.transport = transport;
            this.script = new ConcurrentLinkedDeque<>(List.of(dials));
        }

        @Override
        protected void dial() {
            switch (script.remove()) {
                case CONNECTS -> connected(new Outbox(new EmbeddedChannel(), b -> b, 1200), "scripted");
                case CANNOT_CONNECT -> lost("cannot connect: connection refused", false);
                case RELAY_BUSY -> refusedForNow("relay refused the session for now: busy", Duration.ofMillis(1));
                case RELAY_REFUSES -> lost("relay refused the session: unknown node", true);
            }
        }

        /** The connection of a session that was up goes away: it is dialled again. */
        void connectionLost() {
            lost("connection closed", false);
        }

        @Override
        protected void disconnect() {
        }

        @Override
        public String transportName() {
            return transport;
        }

        @Override
        public int maxPacketSize() {
            return 1200;
        }
    }

    @AfterEach
    void stop() {
        timers.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }

    @Test
    void eachDialIsCountedByHowItEndedAndAConnectedSessionsLossIsNone() throws Exception {
        meters.bindMeterRegistry(registry);
        ScriptedSession session = new ScriptedSession("scripted-redials", Dial.CONNECTS, Dial.CANNOT_CONNECT, Dial.RELAY_BUSY,
                Dial.CONNECTS);
        session.open().get(1, TimeUnit.SECONDS);
        assertEquals(1, attempts("scripted-redials", "established"));
        assertEquals(1, registry.get("cloudbridge.relay.session.establish").tag("transport", "scripted-redials").timer().count());

        session.connectionLost(); // then a dial that cannot connect, one the relay turns away for now, one that connects
        await(() -> session.state() == TransportState.CONNECTED && attempts("scripted-redials", "established") == 2);
        assertEquals(1, attempts("scripted-redials", "failed"), "the lost connection itself is no dial");
        assertEquals(1, attempts("scripted-redials", "busy"));
        assertEquals(0, attempts("scripted-redials", "refused"));
        assertEquals(2, registry.get("cloudbridge.relay.session.establish").tag("transport", "scripted-redials").timer().count(),
                "only established dials are timed");
        assertEquals(RelaySessionMeters.ESTABLISH_BUCKETS.length,
                registry.get("cloudbridge.relay.session.establish").tag("transport", "scripted-redials").timer().takeSnapshot()
                        .histogramCounts().length);
        session.close();

        ScriptedSession refused = new ScriptedSession("scripted-refused", Dial.RELAY_REFUSES);
        assertTrue(refused.open().isCompletedExceptionally());
        assertEquals(1, attempts("scripted-refused", "refused"));
        assertEquals(0, attempts("scripted-refused", "failed") + attempts("scripted-refused", "established"));
    }

    @Test
    void aTransportsMetersComeWithItsFirstDialAndGoWithTheRegistryWhileTheCountsStay() throws Exception {
        meters.bindMeterRegistry(registry);
        assertTrue(registry.find("cloudbridge.relay.session.attempts").tag("transport", "scripted-unbound").meters().isEmpty(),
                "no dial yet, no series");

        meters.unbindMeterRegistry(registry);
        assertEquals(List.of(), registry.getMeters(), "the meters go with the registry");
        ScriptedSession session = new ScriptedSession("scripted-unbound", Dial.CANNOT_CONNECT);
        assertTrue(session.open().isCompletedExceptionally(), "dialled without a registry: counted all the same");

        meters.bindMeterRegistry(registry);
        assertEquals(1, attempts("scripted-unbound", "failed"));
        assertEquals(4, registry.get("cloudbridge.relay.session.attempts").tag("transport", "scripted-unbound").functionCounters().size(),
                "every outcome of a transport that dialled, zero or not");
    }

    private double attempts(String transport, String outcome) {
        return registry.get("cloudbridge.relay.session.attempts").tags("transport", transport, "outcome", outcome).functionCounter()
                .count();
    }

    private static void await(BooleanSupplier condition) {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("not within 5 s");
            }
            LockSupport.parkNanos(1_000_000);
        }
    }
}
