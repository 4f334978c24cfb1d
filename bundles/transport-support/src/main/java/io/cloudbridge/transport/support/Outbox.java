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
        CLOSED("closed", true),
        /** Larger than the connection carries now. */
        TOO_LARGE("too large", true),
        /** {@link #MAX_QUEUED} packets already wait for the event loop. */
        QUEUE_FULL("queue full", true),
        /** Taken, and the connection closed before it was written. */
        CLOSED_QUEUED("closed before it was sent", false),
        /** Taken, and the connection's write buffer stayed full after a flush (its transport is backed up). */
        BACKLOG("connection backed up", false),
        /**
         * Taken, and the connection's protocol stack refused the write. (A QUIC stack whose own
         * datagram queue is full drops without refusing: those drops are not seen here.)
         */
        REFUSED("refused by the connection", false);

        private final String text;
        /** Whether {@link #offer} refuses the packet (its caller sees false) rather than dropping one it took. */
        private final boolean refusedAtOffer;

        Drop(String text, boolean refusedAtOffer) {
            this.text = text;
            this.refusedAtOffer = refusedAtOffer;
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
        // Set once a flush made no room (a WebSocket whose TCP connection is backed up): the rest of
        // this run is dropped without flushing again for each packet.
        boolean backedUp = false;
        // At most a queue's worth per run, so that producers on other threads cannot keep this loop
        // here while its other channels wait; what is left runs as a task of its own.
        int budget = MAX_QUEUED;
        for (Object m; budget-- > 0 && (m = queue.poll()) != null; ) {
            queued.decrementAndGet();
            if (!channel.isActive()) {
                io.netty.util.ReferenceCountUtil.release(m);
                drop(Drop.CLOSED_QUEUED);
                continue;
            }
            if (!channel.isWritable() && wrote && !backedUp) {
                // This burst filled the write buffer: hand it on, and drop only if that made no room.
                channel.flush();
                backedUp = !channel.isWritable();
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
        if (!queue.isEmpty() && drainScheduled.compareAndSet(false, true)) {
            channel.eventLoop().execute(drainTask);
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
        return dropped(true);
    }

    /**
     * The drops of packets {@link #offer} had taken (returned true for), by where: what the caller
     * cannot count itself (a relay's switch counts the refusals as "destination busy").
     */
    public java.util.Map<String, Long> droppedAfterTaking() {
        return dropped(false);
    }

    private java.util.Map<String, Long> dropped(boolean withRefusals) {
        java.util.Map<String, Long> out = new java.util.LinkedHashMap<>();
        for (Drop d : Drop.values()) {
            long n = drops[d.ordinal()].sum();
            if (n > 0 && (withRefusals || !d.refusedAtOffer)) {
                out.put(d.text(), n);
            }
        }
        return out;
    }
}
