package io.cloudbridge.transport.websocket.internal;

import io.cloudbridge.api.net.NodeKey;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import java.nio.ByteBuffer;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * Packets bound for one WebSocket connection, from any thread. Each packet is copied into a frame
 * at once (the caller's buffer is its own again on return); the frames are written and flushed by
 * one task on the connection's event loop, however many arrived meanwhile: one flush, one system
 * call, for a burst. Bounded: a connection that cannot keep up drops, and the drop is counted.
 */
final class Outbox {
    /** Frames waiting for the event loop, at most. */
    static final int MAX_QUEUED = 2048;

    private final Channel channel;
    private final ConcurrentLinkedQueue<BinaryWebSocketFrame> queue = new ConcurrentLinkedQueue<>();
    private final AtomicInteger queued = new AtomicInteger();
    private final AtomicBoolean drainScheduled = new AtomicBoolean();
    final LongAdder packets = new LongAdder();
    final LongAdder bytes = new LongAdder();
    final LongAdder dropped = new LongAdder();

    Outbox(Channel channel) {
        this.channel = channel;
    }

    /** Queues {@code [key][packet]} as one binary frame; false (and counted) when the connection cannot take it now. */
    boolean offer(NodeKey key, ByteBuffer packet) {
        if (!channel.isActive() || !channel.isWritable() || queued.get() >= MAX_QUEUED) {
            dropped.increment();
            return false;
        }
        int length = packet.remaining();
        ByteBuf frame = channel.alloc().directBuffer(Frames.KEY_LENGTH + length);
        frame.writeBytes(key.toBytes());
        frame.writeBytes(packet.duplicate());
        queued.incrementAndGet();
        queue.add(new BinaryWebSocketFrame(frame));
        packets.increment();
        bytes.add(length);
        if (drainScheduled.compareAndSet(false, true)) {
            channel.eventLoop().execute(this::drain);
        }
        return true;
    }

    private void drain() {
        // Reset first: a packet queued from here on schedules another drain; one queued before is taken below.
        drainScheduled.set(false);
        boolean wrote = false;
        for (BinaryWebSocketFrame f; (f = queue.poll()) != null; ) {
            queued.decrementAndGet();
            if (channel.isActive()) {
                channel.write(f, channel.voidPromise());
                wrote = true;
            } else {
                f.release();
            }
        }
        if (wrote) {
            channel.flush();
        }
    }

    /** Releases what is still queued (the connection closed). */
    void discard() {
        for (BinaryWebSocketFrame f; (f = queue.poll()) != null; ) {
            queued.decrementAndGet();
            f.release();
        }
    }
}
