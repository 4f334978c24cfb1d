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
 * Bounded: a connection that cannot keep up drops, and the drop is counted by where it happened
 * ({@link Drop}).
 *
 * <p>The connection's own backlog (Netty's write-buffer water marks) is judged by the drain, not by
 * the thread that offers: the drain writes a burst before it flushes, so a burst of some 45
 * full-size packets made the channel unwritable for the moment it took, and every packet offered
 * meanwhile from another thread was dropped (seen as most of a relayed TCP transfer's
 * retransmissions). Now the drain flushes when the buffer fills, and drops only what still finds
 * no room: a WebSocket whose TCP connection is backed up, a QUIC stack that takes no more.
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
    private final LongAdder[] drops = new LongAdder[Drop.values().length];
    // Made once: a relay writes tens of thousands of packets a second through here.
    private final Runnable drainTask = this::drain;
    private final ChannelFutureListener countFailure = f -> {
        if (!f.isSuccess()) {
            drop(Drop.REFUSED); // e.g. larger than the path takes now, or the QUIC stack's datagram queue full
        }
    };

    /** Where a packet was dropped. */
    public enum Drop {
        /** The connection is closed. */
        CLOSED("closed"),
        /** Larger than the connection carries now. */
        TOO_LARGE("too large"),
        /** {@link #MAX_QUEUED} packets already wait for the event loop. */
        QUEUE_FULL("queue full"),
        /** The connection's write buffer stayed full after a flush (its transport is backed up). */
        BACKLOG("connection backed up"),
        /** The connection's protocol stack refused the write. */
        REFUSED("refused by the connection");

        private final String text;

        Drop(String text) {
            this.text = text;
        }

        public String text() {
            return text;
        }
    }

    /**
     * @param frame     wraps the {@code [key][packet]} buffer as the transport's message (it owns the buffer)
     * @param maxPacket the largest packet (without the key) the connection carries
     */
    public Outbox(Channel channel, Function<ByteBuf, Object> frame, int maxPacket) {
        this.channel = channel;
        this.frame = frame;
        this.maxPacket = maxPacket;
        for (int i = 0; i < drops.length; i++) {
            drops[i] = new LongAdder();
        }
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
        Drop drop = !channel.isActive() ? Drop.CLOSED : length > maxPacket ? Drop.TOO_LARGE
                : queued.get() >= MAX_QUEUED ? Drop.QUEUE_FULL : null;
        if (drop != null) {
            drop(drop);
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
            if (!channel.isActive()) {
                io.netty.util.ReferenceCountUtil.release(m);
                drop(Drop.CLOSED);
                continue;
            }
            if (!channel.isWritable() && wrote) {
                // This burst filled the write buffer: hand it on, and drop only if that made no room.
                channel.flush();
            }
            if (!channel.isWritable()) {
                io.netty.util.ReferenceCountUtil.release(m);
                drop(Drop.BACKLOG);
                continue;
            }
            channel.write(m).addListener(countFailure);
            wrote = true;
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

    private void drop(Drop where) {
        drops[where.ordinal()].increment();
    }

    public long dropped() {
        long sum = 0;
        for (LongAdder d : drops) {
            sum += d.sum();
        }
        return sum;
    }

    /** The drops by where they happened, only those that occurred. */
    public java.util.Map<String, Long> droppedByReason() {
        java.util.Map<String, Long> out = new java.util.LinkedHashMap<>();
        for (Drop d : Drop.values()) {
            long n = drops[d.ordinal()].sum();
            if (n > 0) {
                out.put(d.text(), n);
            }
        }
        return out;
    }
}
