package io.cloudbridge.transport.support;

import io.cloudbridge.api.net.NodeKey;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import java.nio.ByteBuffer;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Function;

/**
 * Packets bound for one connection, from any thread. Each is copied at once into a
 * {@code [32-byte key][packet]} buffer (the caller's buffer is its own again on return) and wrapped
 * as the transport frames it (a WebSocket frame, a QUIC datagram); one task on the connection's
 * event loop writes however many arrived meanwhile and flushes once: one system call for a burst.
 * Bounded: a connection that cannot keep up drops, and the drop is counted.
 */
public final class Outbox {
    /** Packets waiting for the event loop, at most. */
    public static final int MAX_QUEUED = 2048;
    public static final int KEY_LENGTH = 32;

    private final Channel channel;
    private final Function<ByteBuf, Object> frame;
    private final ConcurrentLinkedQueue<Object> queue = new ConcurrentLinkedQueue<>();
    private final AtomicInteger queued = new AtomicInteger();
    private final AtomicBoolean drainScheduled = new AtomicBoolean();
    private volatile int maxPacket;
    private final LongAdder packets = new LongAdder();
    private final LongAdder bytes = new LongAdder();
    private final LongAdder dropped = new LongAdder();
    // Made once: a relay writes tens of thousands of packets a second through here.
    private final Runnable drainTask = this::drain;
    private final ChannelFutureListener countFailure = f -> {
        if (!f.isSuccess()) {
            dropped.increment(); // e.g. larger than the path takes now
        }
    };

    /**
     * @param frame     wraps the {@code [key][packet]} buffer as the transport's message (it owns the buffer)
     * @param maxPacket the largest packet (without the key) the connection carries
     */
    public Outbox(Channel channel, Function<ByteBuf, Object> frame, int maxPacket) {
        this.channel = channel;
        this.frame = frame;
        this.maxPacket = maxPacket;
    }

    /** The largest packet changed (a QUIC path's datagram limit, say). */
    public void maxPacket(int bytes) {
        this.maxPacket = bytes;
    }

    public int maxPacket() {
        return maxPacket;
    }

    /** Queues {@code packet} for {@code key}; false, and counted, when the connection cannot take it now. */
    public boolean offer(NodeKey key, ByteBuffer packet) {
        int length = packet.remaining();
        if (!channel.isActive() || !channel.isWritable() || length > maxPacket || queued.get() >= MAX_QUEUED) {
            dropped.increment();
            return false;
        }
        ByteBuf buffer = channel.alloc().directBuffer(KEY_LENGTH + length);
        buffer.writeBytes(key.toBytes());
        buffer.writeBytes(packet.duplicate());
        queued.incrementAndGet();
        queue.add(frame.apply(buffer));
        packets.increment();
        bytes.add(length);
        if (drainScheduled.compareAndSet(false, true)) {
            channel.eventLoop().execute(drainTask);
        }
        return true;
    }

    private void drain() {
        // Reset first: a packet queued from here on schedules another drain; one queued before is taken below.
        drainScheduled.set(false);
        boolean wrote = false;
        for (Object m; (m = queue.poll()) != null; ) {
            queued.decrementAndGet();
            if (channel.isActive()) {
                channel.write(m).addListener(countFailure);
                wrote = true;
            } else {
                io.netty.util.ReferenceCountUtil.release(m);
            }
        }
        if (wrote) {
            channel.flush();
        }
    }

    /** Releases what is still queued (the connection closed). */
    public void discard() {
        for (Object m; (m = queue.poll()) != null; ) {
            queued.decrementAndGet();
            io.netty.util.ReferenceCountUtil.release(m);
        }
    }

    public long packets() {
        return packets.sum();
    }

    public long bytes() {
        return bytes.sum();
    }

    public long dropped() {
        return dropped.sum();
    }
}
