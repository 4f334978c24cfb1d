package io.cloudbridge.paths.internal;

import io.cloudbridge.api.path.DatagramBatch;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelException;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.FixedRecvByteBufAllocator;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.socket.DatagramPacket;
import io.netty.channel.unix.SegmentedDatagramPacket;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The overlay's socket through Linux's epoll (Netty's native transport, which the relay's and the
 * node's QUIC sockets use too), where the JDK's costs a system call, and a pass through the UDP
 * stack, per datagram:
 * <ul>
 * <li>a burst of equal-size messages to one peer (the segments of one TCP send on the TUN device)
 * leaves as one datagram with UDP GSO: the kernel cuts it into the datagrams on the wire, as late
 * as it can; where GSO is missing or was refused, the burst leaves in one {@code sendmmsg};
 * <li>with UDP GRO, the kernel joins a peer's datagrams that arrive back to back and one
 * {@code recvmsg} brings them all, handed on one by one.
 * </ul>
 * Sends are copied into one native buffer per burst and written on the socket's own thread (one
 * task a burst); received datagrams wait in a short queue for the engine's receive thread, and
 * reading stops while it is full, so the rest waits in the kernel's buffer instead of in memory.
 */
final class EpollOverlaySocket implements OverlaySocket {
    private static final Logger LOG = LoggerFactory.getLogger(EpollOverlaySocket.class);
    /** Socket buffers asked for, each way: bursts arrive faster than one thread decrypts them. */
    static final int BUFFER_BYTES = 4 << 20;
    /** The kernel's most segments in one GSO send (UDP_MAX_SEGMENTS), and its most bytes in one UDP datagram, with room for headers. */
    static final int MAX_SEGMENTS = 64;
    static final int MAX_GSO_BYTES = 65_000;
    /**
     * Datagrams held for the receive thread: reading pauses above the first, resumes below the
     * second. Each holds (a share of) the 64 KiB its read took, so the queue pins 8 MiB at most.
     */
    private static final int QUEUE_PAUSE = 128;
    private static final int QUEUE_RESUME = 32;
    /** Bytes handed to the socket's thread and not yet written: beyond this a send waits, as a full socket buffer makes it. */
    private static final long PENDING_LIMIT = BUFFER_BYTES;
    private static final long SEND_WAIT_NANOS = 5_000_000;
    private static final long POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(200);

    private final EventLoopGroup loop;
    private final Channel channel;
    private final boolean gro;
    /** Off for good once the kernel refused a GSO send (see {@link #gsoRefused}). */
    private volatile boolean gso;
    private final ConcurrentLinkedQueue<DatagramPacket> received = new ConcurrentLinkedQueue<>();
    private final AtomicInteger held = new AtomicInteger();
    private final AtomicLong pending = new AtomicLong();
    private volatile Thread receiver;
    private volatile boolean closed;

    /** Whether this machine can have one: Linux with Netty's native epoll library. */
    static boolean available() {
        return Epoll.isAvailable();
    }

    /** Why {@link #available()} is false. */
    static String unavailability() {
        Throwable cause = Epoll.unavailabilityCause();
        return cause == null ? "unknown" : cause.toString();
    }

    /**
     * Binds a socket to {@code address}.
     *
     * @param offload whether to ask for UDP GSO and GRO (off: {@code sendmmsg} and one datagram a {@code recvmsg})
     */
    static EpollOverlaySocket bind(InetSocketAddress address, Others others, boolean offload) throws IOException {
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("overlay-udp", true),
                EpollIoHandler.newFactory());
        try {
            return new EpollOverlaySocket(group, address, others, offload);
        } catch (IOException | RuntimeException e) {
            group.shutdownGracefully(0, 0, TimeUnit.MILLISECONDS);
            throw e;
        }
    }

    private EpollOverlaySocket(EventLoopGroup group, InetSocketAddress address, Others others, boolean offload) throws IOException {
        this.loop = group;
        Bootstrap bootstrap = new Bootstrap().group(group).channel(EpollDatagramChannel.class)
                .option(ChannelOption.SO_RCVBUF, BUFFER_BYTES).option(ChannelOption.SO_SNDBUF, BUFFER_BYTES)
                // One datagram, or one GRO run of them, a read: room for the largest.
                .option(ChannelOption.RCVBUF_ALLOCATOR, new FixedRecvByteBufAllocator(65_535))
                .option(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(BUFFER_BYTES / 4, BUFFER_BYTES))
                .handler(new Arrivals(others));
        try {
            channel = bootstrap.bind(address).sync().channel();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while binding " + address, e);
        } catch (ChannelException e) {
            throw new IOException("cannot bind " + address + ": " + e.getMessage(), e);
        } catch (Exception e) { // the bind's failure as it happened (a BindException, mostly)
            if (e instanceof IOException io) {
                throw io;
            }
            throw new IOException("cannot bind " + address + ": " + e, e);
        }
        boolean joined = false;
        if (offload) {
            try {
                channel.config().setOption(EpollChannelOption.UDP_GRO, true);
                joined = Boolean.TRUE.equals(channel.config().getOption(EpollChannelOption.UDP_GRO));
            } catch (ChannelException | UnsupportedOperationException e) {
                LOG.debug("no UDP GRO on the overlay's socket: {}", e.toString());
            }
        }
        gro = joined;
        gso = offload && EpollDatagramChannel.isSegmentedDatagramPacketSupported();
    }

    /** Whether received bursts are joined by the kernel. */
    boolean gro() {
        return gro;
    }

    /** Whether reading is paused: the engine's queue is full and the kernel's buffer holds the rest (for tests). */
    boolean readingPaused() {
        return !channel.config().isAutoRead();
    }

    /** Whether a burst leaves as one GSO datagram. */
    boolean gso() {
        return gso;
    }

    @Override
    public InetSocketAddress localAddress() {
        return (InetSocketAddress) channel.localAddress();
    }

    @Override
    public int send(ByteBuffer[] datagrams, int from, int count, InetSocketAddress to) throws IOException {
        if (closed || !channel.isActive()) {
            throw new IOException("the overlay's socket is closed");
        }
        int total = 0;
        for (int i = from; i < from + count; i++) {
            total += datagrams[i].remaining();
        }
        boolean onLoop = channel.eventLoop().inEventLoop();
        // On the socket's own thread (a claim answered from there) nothing can make room while it
        // waits: it writes at once, or not at all.
        if (onLoop ? pending.get() + total > PENDING_LIMIT || !channel.isWritable() : !room(total)) {
            return 0;
        }
        // One copy into native memory, as the JDK makes of a heap buffer for each datagram it sends.
        ByteBuf burst = channel.alloc().directBuffer(total);
        int segment = datagrams[from].remaining();
        boolean even = true;
        for (int i = from; i < from + count; i++) {
            int length = datagrams[i].remaining();
            // GSO cuts into equal segments, the last one possibly shorter.
            even &= i == from + count - 1 ? length <= segment : length == segment;
            ByteBuffer datagram = datagrams[i];
            int at = datagram.position();
            burst.writeBytes(datagram);
            datagram.position(at); // (the caller's buffer, as it was)
        }
        boolean segmented = gso && count > 1 && even && segment > 0;
        int[] lengths = null;
        if (!segmented) {
            lengths = new int[count];
            for (int i = 0; i < count; i++) {
                lengths[i] = datagrams[from + i].remaining();
            }
        }
        int[] sizes = lengths;
        pending.addAndGet(total);
        int bytes = total;
        if (onLoop) {
            write(burst, bytes, segmented, segment, sizes, to);
            return count;
        }
        try {
            channel.eventLoop().execute(() -> write(burst, bytes, segmented, segment, sizes, to));
        } catch (RejectedExecutionException e) {
            pending.addAndGet(-total);
            burst.release();
            throw new IOException("the overlay's socket is closed", e);
        }
        return count;
    }

    /** Waits (a few milliseconds at most) until the socket's thread has room for {@code bytes} more. */
    private boolean room(int bytes) {
        long deadline = 0;
        while (pending.get() + bytes > PENDING_LIMIT || !channel.isWritable()) {
            long now = System.nanoTime();
            if (deadline == 0) {
                deadline = now + SEND_WAIT_NANOS;
            } else if (now - deadline > 0 || closed) {
                return false;
            }
            LockSupport.parkNanos(25_000);
        }
        return true;
    }

    /** On the socket's thread: the burst as GSO datagrams of at most {@link #MAX_SEGMENTS}, or as datagrams for one {@code sendmmsg}. */
    private void write(ByteBuf burst, int bytes, boolean segmented, int segment, int[] lengths, InetSocketAddress to) {
        try {
            if (segmented) {
                int perSend = Math.max(1, Math.min(MAX_SEGMENTS, MAX_GSO_BYTES / segment));
                while (burst.isReadable()) {
                    int take = Math.min(burst.readableBytes(), perSend * segment);
                    ByteBuf part = burst.readRetainedSlice(take);
                    if (take <= segment) {
                        channel.write(new DatagramPacket(part, to), channel.voidPromise());
                    } else {
                        // (One reference more for the listener: a refused burst is sent again datagram by datagram.)
                        channel.write(new SegmentedDatagramPacket(part.retain(), segment, to)).addListener(gsoRefused(part, segment, to));
                    }
                }
            } else {
                for (int length : lengths) {
                    channel.write(new DatagramPacket(burst.readRetainedSlice(length), to), channel.voidPromise());
                }
            }
            channel.flush();
        } finally {
            burst.release();
            pending.addAndGet(-bytes);
        }
    }

    /**
     * A GSO send the kernel refused: EIO where the egress device cannot checksum segments, EINVAL
     * where a segment is larger than the route's MTU (a datagram would be fragmented instead). The
     * burst goes again datagram by datagram, and so do all bursts from then on (said once).
     */
    private ChannelFutureListener gsoRefused(ByteBuf part, int segment, InetSocketAddress to) {
        return future -> {
            try {
                if (future.isSuccess() || closed) {
                    return;
                }
                if (gso) {
                    gso = false;
                    LOG.warn("the kernel refused a segmented burst to {} ({}): the overlay's socket sends datagram by datagram from now on",
                            to, String.valueOf(future.cause()));
                }
                for (int at = part.readerIndex(); at < part.writerIndex(); at += segment) {
                    int length = Math.min(segment, part.writerIndex() - at);
                    channel.write(new DatagramPacket(part.retainedSlice(at, length), to), channel.voidPromise());
                }
                channel.flush();
            } finally {
                part.release();
            }
        };
    }


    @Override
    public int receive(DatagramBatch batch) throws IOException {
        if (closed) {
            return -1;
        }
        try {
            DatagramPacket next = received.poll();
            if (next == null) {
                receiver = Thread.currentThread();
                next = received.poll(); // (one may have come before the receiver was known)
                if (next == null) {
                    LockSupport.parkNanos(this, POLL_NANOS);
                    next = received.poll();
                }
                receiver = null;
            }
            while (next != null) {
                held.decrementAndGet();
                try {
                    batch.add(next.content().nioBuffer(), next.sender());
                } finally {
                    next.release();
                }
                next = batch.isFull() ? null : received.poll();
            }
            return closed ? -1 : batch.count();
        } finally {
            resumeReading();
        }
    }

    /** Reading paused while the queue was full (see {@link Arrivals}): on again once the receive thread has emptied it enough. */
    private void resumeReading() {
        if (!closed && held.get() <= QUEUE_RESUME && !channel.config().isAutoRead()) {
            try {
                channel.config().setAutoRead(true);
            } catch (RuntimeException closing) {
                // closed meanwhile: its loop takes no more tasks
            }
        }
    }

    /** On the socket's thread: what is not WireGuard's to the claims, the rest to the receive thread's queue. */
    private final class Arrivals extends ChannelInboundHandlerAdapter {
        private final Others others;

        Arrivals(Others others) {
            this.others = others;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            DatagramPacket packet = (DatagramPacket) msg;
            ByteBuffer view = packet.content().nioBuffer();
            if (!OverlaySocket.wireGuardShaped(view) && others.claim(packet.sender(), view)) {
                packet.release();
                return;
            }
            if (closed) {
                packet.release();
                return;
            }
            received.add(packet);
            if (held.incrementAndGet() >= QUEUE_PAUSE && ctx.channel().config().isAutoRead()) {
                // The rest waits in the kernel's buffer; the receive thread turns reading on again
                // (and if it emptied the queue meanwhile, it may not look again for a while: so here).
                ctx.channel().config().setAutoRead(false);
                resumeReading();
            }
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            Thread waiting = receiver;
            if (waiting != null) {
                LockSupport.unpark(waiting);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            LOG.debug("the overlay's socket: {}", cause.toString());
        }
    }

    @Override
    public void close() {
        closed = true;
        channel.close().awaitUninterruptibly(2, TimeUnit.SECONDS);
        // The thread goes before the bundle that loaded its classes does.
        loop.shutdownGracefully(0, 0, TimeUnit.MILLISECONDS).awaitUninterruptibly(2, TimeUnit.SECONDS);
        Thread waiting = receiver;
        if (waiting != null) {
            LockSupport.unpark(waiting);
        }
        DatagramPacket left;
        while ((left = received.poll()) != null) {
            left.release();
        }
    }
}
