package io.cloudbridge.transport.quic.internal;

import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.api.relay.PortSink;
import io.cloudbridge.transport.support.Outbox;
import java.nio.ByteBuffer;

/**
 * The node's port's sink in the switch: the switch's packets out as datagrams. Stages:
 * <ol>
 * <li>a packet for the node, from any thread, is copied into the outbox as
 * {@code [32-byte source key][packet]}, or dropped and counted there when the connection cannot
 * take it now (full, or larger than the path carries: {@link DatagramLimit});
 * <li>the outbox writes what arrived as QUIC datagrams on the connection's loop, one flush a burst;
 * <li>the switch letting go of the port (a newer session of the node, the node removed) ends the
 * session for that reason.
 * </ol>
 */
final class DatagramSink implements PortSink {
    private final Outbox outbox;
    private final SessionCloser closer;

    DatagramSink(Outbox outbox, SessionCloser closer) {
        this.outbox = outbox;
        this.closer = closer;
    }

    @Override
    public boolean deliver(NodeKey source, ByteBuffer packet) {
        return outbox.offer(source, packet);
    }

    @Override
    public java.util.Map<String, Long> drops() {
        return outbox.droppedAfterTaking();
    }

    @Override
    public void closed(String reason) {
        closer.close(reason);
    }
}
