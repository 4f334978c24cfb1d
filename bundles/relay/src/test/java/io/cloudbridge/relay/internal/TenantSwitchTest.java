package io.cloudbridge.relay.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.api.relay.AuthenticatedNode;
import io.cloudbridge.api.relay.ForwardResult;
import io.cloudbridge.api.relay.PortSink;
import io.cloudbridge.api.relay.SwitchPort;
import java.lang.annotation.Annotation;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class TenantSwitchTest {
    private final AtomicLong nanos = new AtomicLong(1_000_000_000L);

    /** A session's end as the switch sees it: what it was handed, and whether it was let go. */
    static final class Recording implements PortSink {
        final List<String> received = new java.util.concurrent.CopyOnWriteArrayList<>();
        volatile String closed;
        boolean full;

        @Override
        public boolean deliver(NodeKey source, ByteBuffer packet) {
            if (full) {
                return false;
            }
            byte[] b = new byte[packet.remaining()];
            packet.get(b);
            received.add(source.toBase64() + ":" + b.length + ":" + b[4]);
            return true;
        }

        @Override
        public void closed(String reason) {
            closed = reason;
        }
    }

    static NodeKey key(int n) {
        byte[] b = new byte[32];
        b[0] = (byte) n;
        return NodeKey.of(b);
    }

    static AuthenticatedNode node(String tenant, int n) {
        return new AuthenticatedNode("id-" + tenant + "-" + n, tenant, key(n));
    }

    /** A WireGuard transport message (type 4) of {@code size} bytes, marked at byte 4. */
    static ByteBuffer packet(int size, int mark) {
        ByteBuffer b = ByteBuffer.allocate(size);
        b.put(0, (byte) 4).put(4, (byte) mark);
        return b;
    }

    /** Waits (up to 10 s) for the switch to tell the session it was let go: the grace runs on the switch's timer. */
    private static void awaitClosed(Recording session) {
        long deadline = System.nanoTime() + java.time.Duration.ofSeconds(10).toNanos();
        while (session.closed == null && System.nanoTime() < deadline) {
            Thread.onSpinWait();
        }
    }

    private TenantSwitch newSwitch(int nodePps, long nodeBps, int tenantPps) {
        return new TenantSwitch(config(nodePps, nodeBps, tenantPps, 0), nanos::get);
    }

    @Test
    void packetsReachOnlyNodesOfTheSendersTenant() {
        TenantSwitch sw = newSwitch(0, 0, 0);
        Recording a1 = new Recording();
        Recording a2 = new Recording();
        Recording b2 = new Recording();
        SwitchPort p1 = sw.attach(node("a", 1), "test", a1);
        sw.attach(node("a", 2), "test", a2);
        SwitchPort pb = sw.attach(node("b", 2), "test", b2); // same key, another tenant

        ByteBuffer out = packet(100, 7);
        assertEquals(ForwardResult.FORWARDED, p1.forward(key(2), out));
        assertEquals(0, out.position(), "the caller's buffer is left as it was");
        assertEquals(List.of(key(1).toBase64() + ":100:7"), a2.received);
        assertTrue(b2.received.isEmpty(), "the other tenant's node with the same key got nothing");
        assertEquals(ForwardResult.NOT_CONNECTED, pb.forward(key(1), packet(100, 8)), "b cannot reach a's node 1");
        assertEquals(ForwardResult.NOT_CONNECTED, p1.forward(key(9), packet(100, 9)));
        assertEquals(1L, sw.outcomes().get(ForwardResult.FORWARDED));
        assertEquals(2L, sw.outcomes().get(ForwardResult.NOT_CONNECTED));
        assertEquals(100L, sw.bytesForwarded());
    }

    @Test
    void whatIsNotWireGuardIsDroppedAndCounted() {
        TenantSwitch sw = newSwitch(0, 0, 0);
        Recording a2 = new Recording();
        SwitchPort p1 = sw.attach(node("a", 1), "test", new Recording());
        sw.attach(node("a", 2), "test", a2);
        ByteBuffer notWireGuard = ByteBuffer.allocate(100);
        notWireGuard.put(0, (byte) 0x45); // an IPv4 header
        ByteBuffer reservedSet = packet(100, 1).put(2, (byte) 1);
        for (ByteBuffer bad : List.of(notWireGuard, reservedSet, packet(31, 1), ByteBuffer.allocate(70_000).put(0, (byte) 4))) {
            assertEquals(ForwardResult.MALFORMED, p1.forward(key(2), bad));
        }
        assertTrue(a2.received.isEmpty());
        assertEquals(ForwardResult.FORWARDED, p1.forward(key(2), packet(32, 1)), "a keepalive is the smallest message");
    }

    @Test
    void aNewerSessionReplacesTheOlderAndDisconnectClosesIt() {
        TenantSwitch sw = newSwitch(0, 0, 0);
        Recording first = new Recording();
        Recording second = new Recording();
        Recording peer = new Recording();
        SwitchPort old = sw.attach(node("a", 1), "websocket", first);
        SwitchPort peerPort = sw.attach(node("a", 2), "test", peer);
        SwitchPort now = sw.attach(node("a", 1), "quic", second);
        // The older session forwards nothing from now on (whoever holds it may be who the node is
        // getting away from), and nothing is delivered to it.
        assertEquals(ForwardResult.PORT_CLOSED, old.forward(key(2), packet(40, 1)));
        assertTrue(peer.received.isEmpty());
        assertEquals(ForwardResult.FORWARDED, peerPort.forward(key(1), packet(40, 2)));
        assertEquals(1, second.received.size(), "the packet went to the newer session");
        assertTrue(first.received.isEmpty());
        awaitClosed(first);
        assertTrue(first.closed != null && first.closed.contains("replaced"), String.valueOf(first.closed));
        assertFalse(old.isOpen());
        assertEquals(ForwardResult.PORT_CLOSED, old.forward(key(2), packet(40, 1)));
        old.close(); // the replaced session's own close must not remove the newer one
        assertEquals(ForwardResult.FORWARDED, peerPort.forward(key(1), packet(40, 3)));

        assertTrue(sw.disconnect("a", key(1), "node removed"));
        assertEquals("node removed", second.closed);
        assertFalse(now.isOpen());
        assertEquals(ForwardResult.NOT_CONNECTED, peerPort.forward(key(1), packet(40, 4)));
        assertFalse(sw.disconnect("a", key(1), "again"));
    }

    /**
     * A node racing two transports keeps the one that connected first and closes the other; when
     * the later one reached the relay last, closing it must give delivery back to the first, and
     * the first must outlive the grace (it was closed after 2 s, and the node lost its relay
     * path until it dialled again).
     */
    @Test
    void closingTheNewerSessionGivesDeliveryBackToTheOlderWhichStays() {
        TenantSwitch sw = newSwitch(0, 0, 0);
        Recording quic = new Recording();
        Recording websocket = new Recording();
        Recording peer = new Recording();
        SwitchPort kept = sw.attach(node("a", 1), "quic", quic);
        SwitchPort peerPort = sw.attach(node("a", 2), "test", peer);
        SwitchPort loser = sw.attach(node("a", 1), "websocket", websocket);
        assertEquals(ForwardResult.FORWARDED, peerPort.forward(key(1), packet(40, 1)));
        assertEquals(1, websocket.received.size(), "delivery moved to the newer session");
        assertEquals(ForwardResult.PORT_CLOSED, kept.forward(key(2), packet(40, 9)), "and forwarding with it");
        loser.close();
        assertEquals(ForwardResult.FORWARDED, kept.forward(key(2), packet(40, 10)), "both back on the older session");
        assertEquals(ForwardResult.FORWARDED, peerPort.forward(key(1), packet(40, 2)));
        assertEquals(List.of(key(2).toBase64() + ":40:2"), quic.received, "delivery is back on the older session");
        // A third session for the grace to run out on: the quic session must not be closed by it.
        Recording marker = new Recording();
        SwitchPort other = sw.attach(node("a", 3), "test", marker);
        SwitchPort otherNewer = sw.attach(node("a", 3), "test", new Recording());
        awaitClosed(marker);
        assertTrue(marker.closed != null, "the grace ran out");
        assertTrue(quic.closed == null && kept.isOpen(), "the session the node kept outlived the grace: " + quic.closed);
        assertEquals(ForwardResult.FORWARDED, peerPort.forward(key(1), packet(40, 3)));
        assertTrue(otherNewer.isOpen() && !other.isOpen());
        kept.close();
        assertEquals(ForwardResult.NOT_CONNECTED, peerPort.forward(key(1), packet(40, 4)), "both sessions closed: nothing to deliver to");
    }

    @Test
    void ratesPerNodeAndPerTenantAndABusyDestination() {
        TenantSwitch sw = newSwitch(10, 0, 15);
        Recording sink2 = new Recording();
        SwitchPort p1 = sw.attach(node("a", 1), "test", new Recording());
        SwitchPort p3 = sw.attach(node("a", 3), "test", new Recording());
        sw.attach(node("a", 2), "test", sink2);
        for (int i = 0; i < 10; i++) {
            assertEquals(ForwardResult.FORWARDED, p1.forward(key(2), packet(40, i)));
        }
        assertEquals(ForwardResult.RATE_LIMITED, p1.forward(key(2), packet(40, 10)), "node 1 used its second's worth");
        for (int i = 0; i < 5; i++) {
            assertEquals(ForwardResult.FORWARDED, p3.forward(key(2), packet(40, i)));
        }
        assertEquals(ForwardResult.RATE_LIMITED, p3.forward(key(2), packet(40, 5)), "the tenant used its 15");
        nanos.addAndGet(1_000_000_000L);
        assertEquals(ForwardResult.FORWARDED, p1.forward(key(2), packet(40, 11)), "a second later the rate is back");

        sink2.full = true;
        assertEquals(ForwardResult.DESTINATION_BUSY, p1.forward(key(2), packet(40, 12)));
        assertEquals(2L, sw.outcomes().get(ForwardResult.RATE_LIMITED));
        assertEquals(1L, sw.outcomes().get(ForwardResult.DESTINATION_BUSY));

        TenantSwitch bytes = new TenantSwitch(config(0, 1000, 0, 0), nanos::get);
        SwitchPort q = bytes.attach(node("c", 1), "test", new Recording());
        bytes.attach(node("c", 2), "test", new Recording());
        assertEquals(ForwardResult.FORWARDED, q.forward(key(2), packet(600, 1)));
        assertEquals(ForwardResult.RATE_LIMITED, q.forward(key(2), packet(600, 2)), "1000 bytes a second");
    }

    static ForwardingConfig config(int nodePps, long nodeBps, int tenantPps, long tenantBps) {
        return new ForwardingConfig() {
            @Override
            public Class<? extends Annotation> annotationType() {
                return ForwardingConfig.class;
            }

            public int nodePacketsPerSecond() {
                return nodePps;
            }

            public long nodeBytesPerSecond() {
                return nodeBps;
            }

            public int tenantPacketsPerSecond() {
                return tenantPps;
            }

            public long tenantBytesPerSecond() {
                return tenantBps;
            }
        };
    }
}
