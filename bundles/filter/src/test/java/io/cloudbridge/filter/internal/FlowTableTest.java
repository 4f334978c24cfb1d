package io.cloudbridge.filter.internal;

import static io.cloudbridge.filter.internal.Packets.ACK;
import static io.cloudbridge.filter.internal.Packets.NODE4;
import static io.cloudbridge.filter.internal.Packets.PEER4;
import static io.cloudbridge.filter.internal.Packets.SYN;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.api.policy.NodeFilter;
import io.cloudbridge.filter.internal.FilterTestKit.ManualClock;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The table's bound: what a flood of new flows pushes out, and what it does not. */
class FlowTableTest {
    private static final int BOUND = 256;

    private final ManualClock clock = new ManualClock();
    private final List<String> log = new ArrayList<>();
    private final StatefulFilter filter = FilterTestKit.engine(BOUND, clock, log);

    @Test
    void aFloodOfTenTimesTheBoundStaysWithinItAndPushesOutNewFlowsBeforeConversations() {
        filter.install(StatefulFilterTest.POLICY);
        // A connection the node opened and one a peer opened (ssh), both past their handshakes.
        out(Packets.tcp(NODE4, 41_000, PEER4, 443, SYN));
        assertTrue(in(Packets.tcp(PEER4, 443, NODE4, 41_000, SYN | ACK)));
        out(Packets.tcp(NODE4, 41_000, PEER4, 443, ACK));
        assertTrue(in(Packets.tcp(PEER4, 40_000, NODE4, 22, SYN)));
        out(Packets.tcp(NODE4, 22, PEER4, 40_000, SYN | ACK));
        assertTrue(in(Packets.tcp(PEER4, 40_000, NODE4, 22, ACK)));

        int flood = 10 * BOUND;
        for (int i = 0; i < flood; i++) {
            String source = "100.64." + (1 + i / 250) + "." + (1 + i % 250);
            in(Packets.tcp(source, 10_000 + i, NODE4, i % 2 == 0 ? 22 : 2222, SYN)); // half let in, half refused
            assertTrue(filter.flowCount() <= BOUND);
        }
        assertEquals(BOUND, filter.flowCount());
        assertEquals(flood + 2 - BOUND, filter.evictions(), "every flow pushed out is counted");

        long sshDecisions = filter.inForce().hits(1).sum();
        assertTrue(in(Packets.tcp(PEER4, 443, NODE4, 41_000, ACK)), "the node's connection survived: its reply is let in");
        assertTrue(in(Packets.tcp(PEER4, 40_000, NODE4, 22, ACK)));
        assertEquals(sshDecisions, filter.inForce().hits(1).sum(), "the peer's connection survived: not decided again");
    }

    @Test
    void anExpiredConversationMakesRoomBeforeALiveNewFlow() {
        Timeouts timeouts = Timeouts.of(FilterTestKit.config(16));
        FlowTable table = new FlowTable(16, timeouts);
        long start = clock.getAsLong();
        FlowKey conversation = key(Packets.tcp(PEER4, 40_000, NODE4, 22, ACK));
        FlowTable.Stripe stripe = table.stripe(conversation);
        synchronized (stripe) {
            Flow flow = stripe.add(conversation, Flow.Origin.PEER, 0, null, start);
            flow.seenFromAnswerer(ACK);
            flow.seenFromOpener(ACK);
            stripe.touch(flow, start);
            long later = start + timeouts.tcpEstablishedNanos() + 1;
            for (int port = 1; port <= 15; port++) {
                stripe.add(key(Packets.udp(PEER4, port, NODE4, 53)), Flow.Origin.PEER, 0, null, later);
            }
            stripe.add(key(Packets.udp(PEER4, 16, NODE4, 53)), Flow.Origin.PEER, 0, null, later);
            assertNull(stripe.find(conversation, later), "the expired conversation went first");
            assertEquals(0, table.evictions(), "an expired flow is not an eviction");
            for (int port = 1; port <= 16; port++) {
                assertNotNull(stripe.find(key(Packets.udp(PEER4, port, NODE4, 53)), later));
            }
            stripe.add(key(Packets.udp(PEER4, 17, NODE4, 53)), Flow.Origin.PEER, 0, null, later);
            assertNull(stripe.find(key(Packets.udp(PEER4, 1, NODE4, 53)), later), "then the least recently seen new flow");
        }
        assertEquals(1, table.evictions());
        assertEquals(16, table.size());
    }

    @Test
    void whenOnlyConversationsAreLeftTheLeastRecentlySeenGoes() {
        FlowTable table = new FlowTable(16, Timeouts.of(FilterTestKit.config(16)));
        long now = clock.getAsLong();
        FlowTable.Stripe stripe = table.stripe(key(Packets.udp(PEER4, 1, NODE4, 53)));
        synchronized (stripe) {
            for (int port = 1; port <= 17; port++) {
                Flow flow = stripe.add(key(Packets.udp(PEER4, port, NODE4, 53)), Flow.Origin.PEER, 0, null, now + port);
                flow.seenFromAnswerer(0);
                flow.seenFromOpener(0);
                stripe.touch(flow, now + port);
            }
            assertNull(stripe.find(key(Packets.udp(PEER4, 1, NODE4, 53)), now + 20));
            assertNotNull(stripe.find(key(Packets.udp(PEER4, 2, NODE4, 53)), now + 20));
        }
        assertEquals(1, table.evictions());
    }

    @Test
    void aLowerBoundEvictsAtOnceAndTheSweepForgetsIdleFlows() {
        filter.install(FilterTestKit.acceptAll());
        for (int port = 1; filter.flowCount() < BOUND; port++) { // until every stripe is full: flows fall where their hash says
            in(Packets.udp(PEER4, port, NODE4, 53));
        }
        long before = filter.evictions();
        filter.configure(Timeouts.of(FilterTestKit.config(64)), 64);
        assertEquals(64, filter.flowCount());
        assertEquals(64, filter.flowBound());
        assertEquals(before + BOUND - 64, filter.evictions());

        clock.advanceSeconds(61);
        filter.sweep();
        assertEquals(0, filter.flowCount());
        assertEquals(before + BOUND - 64, filter.evictions(), "forgetting expired flows is no eviction");
    }

    @Test
    void threadsInBothDirectionsAndNewFiltersTogetherKeepTheTableWithinItsBound() throws Exception {
        ExecutorService threads = Executors.newFixedThreadPool(4);
        try {
            List<Future<?>> work = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                int seed = t;
                work.add(threads.submit(() -> {
                    Random random = new Random(seed);
                    for (int i = 0; i < 20_000; i++) {
                        int port = 1 + random.nextInt(2000);
                        if (random.nextBoolean()) {
                            out(Packets.udp(NODE4, port, PEER4, 53));
                        } else {
                            in(Packets.udp(PEER4, 53, NODE4, port));
                        }
                        if (seed == 0 && i % 5000 == 0) {
                            filter.install(i % 10_000 == 0 ? FilterTestKit.acceptAll() : StatefulFilterTest.POLICY);
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : work) {
                f.get(60, TimeUnit.SECONDS);
            }
        } finally {
            threads.shutdownNow();
        }
        assertTrue(filter.flowCount() <= BOUND);
        assertTrue(filter.evictions() > 0);
    }

    private static FlowKey key(byte[] inbound) {
        PacketHeaders h = new PacketHeaders();
        assertTrue(h.read(inbound, 0, inbound.length));
        return FlowKey.inbound(h);
    }

    private void out(byte[] packet) {
        filter.noteOutbound(packet, 0, packet.length);
    }

    private boolean in(byte[] packet) {
        return filter.admitInbound(packet, 0, packet.length);
    }
}
