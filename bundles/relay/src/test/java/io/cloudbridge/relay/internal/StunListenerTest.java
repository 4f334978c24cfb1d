package io.cloudbridge.relay.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.nio.ByteBuffer;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The responder on a real socket: what it drops, by why, as relay:stun and Micrometer see it. */
class StunListenerTest {
    @Test
    void dropsAreCountedByWhyAndTheirMetersGoWithTheRegistry() throws Exception {
        StunListener stun = new StunListener();
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        stun.bindMeterRegistry(registry);
        // One answer a second per source: the second Binding at once is over it.
        stun.activate(QuicListenerLoopsTest.config(1, 0, 1));
        try (DatagramSocket client = new DatagramSocket()) {
            client.setSoTimeout(5_000);
            send(client, stun, ByteBuffer.wrap("not a STUN message at all".getBytes()));
            send(client, stun, StunBindingTest.request(StunBindingTest.transaction(1), true));
            DatagramPacket answer = new DatagramPacket(new byte[576], 576);
            client.receive(answer);
            send(client, stun, StunBindingTest.request(StunBindingTest.transaction(2), true));
            awaitCount(registry, "stun_rate_limited");
            awaitCount(registry, "stun_not_stun");
        } finally {
            stun.deactivate();
        }
        assertEquals(0, drops(registry, "stun_malformed"));
        assertEquals(1 + RelayMeters.STUN_DROPS.size(), registry.get(RelayMeters.DROPS).functionCounters().size());
        assertEquals(1, stun.outcome(StunBinding.Outcome.ANSWERED), "the answered one is no drop");

        stun.unbindMeterRegistry(registry);
        assertEquals(List.of(), registry.getMeters());
    }

    private static void send(DatagramSocket client, StunListener stun, ByteBuffer datagram) throws Exception {
        byte[] bytes = new byte[datagram.remaining()];
        datagram.get(bytes);
        client.send(new DatagramPacket(bytes, bytes.length, stun.localAddress()));
    }

    /** Waits up to 5 s for the responder's event loop to count one drop of the kind. */
    private static void awaitCount(SimpleMeterRegistry registry, String reason) {
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (drops(registry, reason) < 1 && System.nanoTime() < deadline) {
            Thread.onSpinWait();
        }
        assertEquals(1, drops(registry, reason), reason);
    }

    private static double drops(SimpleMeterRegistry registry, String reason) {
        return registry.get(RelayMeters.DROPS).tag("reason", reason).functionCounter().count();
    }
}
