package io.cloudbridge.transport.quic.internal;

import io.cloudbridge.api.net.NodeKey;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import java.nio.ByteBuffer;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * Datagrams bound for one QUIC connection, from any thread: copied at once, written and flushed
 * by one task on the connection's event loop for however many arrived meanwhile (one flush sends
 * them in as few UDP packets as QUIC can). Bounded; what does not fit is dropped and counted.
 */
final class DatagramOutbox {
    static final int MAX_QUEUED = 2048;

    private final Channel connection;
    private final ConcurrentLinkedQueue<ByteBuf> queue = new ConcurrentLinkedQueue<>();
    private final AtomicInteger queued = new AtomicInteger();
    private final AtomicBoolean drainScheduled = new AtomicBoolean();
    volatile int maxDatagram;
    final LongAdder packets = new LongAdder();
    final LongAdder bytes = new LongAdder();
    final LongAdder dropped = new LongAdder();

    DatagramOutbox(Channel connection, int maxDatagram) {
        this.connection = connection;
        this.maxDatagram = maxDatagram;
    }

    boolean offer(NodeKey key, ByteBuffer packet) {
        int length = packet.remaining();
        if (!connection.isActive() || QuicWire.KEY_LENGTH + length > maxDatagram || queued.get() >= MAX_QUEUED) {
            dropped.increment();
            return false;
        }
        ByteBuf datagram = connection.alloc().directBuffer(QuicWire.KEY_LENGTH + length);
        datagram.writeBytes(key.toBytes());
        datagram.writeBytes(packet.duplicate());
        queued.incrementAndGet();
        queue.add(datagram);
        packets.increment();
        bytes.add(length);
        if (drainScheduled.compareAndSet(false, true)) {
            connection.eventLoop().execute(this::drain);
        }
        return true;
    }

    private void drain() {
        drainScheduled.set(false); // a datagram queued from here on schedules another drain
        boolean wrote = false;
        for (ByteBuf d; (d = queue.poll()) != null; ) {
            queued.decrementAndGet();
            if (connection.isActive()) {
                connection.write(d).addListener(f -> {
                    if (!f.isSuccess()) {
                        dropped.increment(); // e.g. larger than the path takes now
                    }
                });
                wrote = true;
            } else {
                d.release();
            }
        }
        if (wrote) {
            connection.flush();
        }
    }

    void discard() {
        for (ByteBuf d; (d = queue.poll()) != null; ) {
            queued.decrementAndGet();
            d.release();
        }
    }
}
