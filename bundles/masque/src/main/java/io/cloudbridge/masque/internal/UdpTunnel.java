package io.cloudbridge.masque.internal;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOption;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.DatagramPacket;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.handler.codec.quic.QuicStreamChannel;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.net.InetSocketAddress;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;

/**
 * One CONNECT-UDP tunnel: a UDP socket connected to the target (so only the target's answers come
 * back), the client's payloads out of it, the target's into HTTP Datagrams or DATAGRAM capsules.
 * It closes when the request stream ends, when nothing passed either way for masque.idleSeconds,
 * or when the client's connection goes.
 */
final class UdpTunnel implements StreamTunnel {
    private final MasqueProxy proxy;
    private final MasqueProxy.Connection connection;
    private final QuicStreamChannel stream;
    private final MasqueProxy.Client client;
    /** The client's tunnel slot, given back when the tunnel closes. */
    private final Admission.Slot slot;
    final String asked;
    final InetSocketAddress target;
    private volatile DatagramChannel socket;
    private final AtomicBoolean closed = new AtomicBoolean();
    private volatile long lastActivityNanos = System.nanoTime();
    private final java.util.concurrent.atomic.AtomicInteger pendingToClient = new java.util.concurrent.atomic.AtomicInteger();
    private ScheduledFuture<?> idleCheck;
    final LongAdder bytesToTarget = new LongAdder();
    final LongAdder bytesToClient = new LongAdder();
    /** How payloads traveled between client and proxy: HTTP Datagrams (QUIC DATAGRAM frames) or DATAGRAM capsules. */
    final LongAdder datagramsIn = new LongAdder();
    final LongAdder capsulesIn = new LongAdder();
    final LongAdder datagramsOut = new LongAdder();
    final LongAdder capsulesOut = new LongAdder();
    final long openedNanos = System.nanoTime();

    private UdpTunnel(MasqueProxy proxy, MasqueProxy.Connection connection, QuicStreamChannel stream, MasqueProxy.Client client,
            Admission.Slot slot, String asked, InetSocketAddress target) {
        this.proxy = proxy;
        this.connection = connection;
        this.stream = stream;
        this.client = client;
        this.slot = slot;
        this.asked = asked;
        this.target = target;
    }

    /** Binds and connects the socket; the future completes with the open tunnel, registered on its connection. */
    static Future<UdpTunnel> open(MasqueProxy proxy, MasqueProxy.Connection connection, QuicStreamChannel stream,
            MasqueProxy.Client client, Admission.Slot slot, String asked, InetSocketAddress target) {
        Promise<UdpTunnel> done = stream.eventLoop().newPromise();
        UdpTunnel t = new UdpTunnel(proxy, connection, stream, client, slot, asked, target);
        onLoopOf(stream, proxy)
                .option(ChannelOption.SO_RCVBUF, 256 * 1024)
                .option(ChannelOption.SO_SNDBUF, 1 << 20)
                // A burst of a few hundred of the client's payloads must queue here, not be dropped at
                // the default 64 KiB high-water mark.
                .option(ChannelOption.WRITE_BUFFER_WATER_MARK, new io.netty.channel.WriteBufferWaterMark(512 * 1024, 1 << 20))
                .handler(t.new FromTarget())
                .connect(target).addListener(f -> stream.eventLoop().execute(() -> {
                    if (!f.isSuccess()) {
                        done.tryFailure(f.cause());
                        return;
                    }
                    t.socket = (DatagramChannel) ((io.netty.channel.ChannelFuture) f).channel();
                    connection.byStream.put(stream.streamId(), t);
                    proxy.tunnels.add(t);
                    t.idleCheck = StreamTunnel.closeWhenIdle(t, stream, proxy.config.idleSeconds());
                    if (!done.trySuccess(t)) {
                        t.close();
                    }
                }));
        return done;
    }

    /**
     * A bootstrap for the tunnel's socket on its QUIC connection's own event loop: a payload then
     * crosses no thread either way (a hand-over to another loop cost a wake-up and a queue per
     * datagram). Another loop, the proxy's own, only where the connection's cannot take a UDP
     * socket of a kind known here.
     */
    static Bootstrap onLoopOf(QuicStreamChannel stream, MasqueProxy proxy) {
        io.netty.channel.EventLoop loop = stream.eventLoop();
        if (loop instanceof io.netty.channel.IoEventLoop io) {
            if (io.isIoType(io.netty.channel.epoll.EpollIoHandler.class)) {
                return new Bootstrap().group(loop).channel(io.netty.channel.epoll.EpollDatagramChannel.class);
            }
            if (io.isIoType(io.netty.channel.nio.NioIoHandler.class)) {
                return new Bootstrap().group(loop).channel(NioDatagramChannel.class);
            }
        }
        return new Bootstrap().group(proxy.udpGroup).channel(NioDatagramChannel.class);
    }

    MasqueProxy.Client client() {
        return client;
    }

    @Override
    public int maxPayload() {
        return proxy.config.maxPayload();
    }

    /** A payload from the client (not released here: the caller owns it); {@code viaDatagram}: in a QUIC DATAGRAM frame. */
    @Override
    public void fromClient(ByteBuf payload, boolean viaDatagram) {
        (viaDatagram ? datagramsIn : capsulesIn).increment();
        toTarget(payload);
    }

    private void toTarget(ByteBuf payload) {
        DatagramChannel s = socket;
        if (closed.get() || s == null) {
            proxy.drops.count(DatagramDrops.Reason.NO_TUNNEL);
            return;
        }
        if (payload.readableBytes() > proxy.config.maxPayload()) {
            proxy.drops.count(DatagramDrops.Reason.TOO_LARGE); // over masque.maxPayload: a UDP datagram is dropped, not cut
            return;
        }
        lastActivityNanos = System.nanoTime();
        bytesToTarget.add(payload.readableBytes());
        if (!s.isWritable()) {
            proxy.drops.count(DatagramDrops.Reason.TARGET_SOCKET_FULL); // the socket's buffer is full: UDP drops rather than queues
            return;
        }
        s.writeAndFlush(new DatagramPacket(payload.retainedDuplicate(), target), s.voidPromise());
    }

    /** The target's answers, to the client. */
    private final class FromTarget extends SimpleChannelInboundHandler<DatagramPacket> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, DatagramPacket packet) {
            if (closed.get()) {
                return;
            }
            ByteBuf payload = packet.content();
            int size = payload.readableBytes();
            lastActivityNanos = System.nanoTime();
            bytesToClient.add(size);
            if (stream.eventLoop().inEventLoop()) {
                toClient(payload.retainedDuplicate(), size); // the socket is on the connection's loop: no hand-over
                return;
            }
            if (pendingToClient.incrementAndGet() > MasqueProxy.Connection.MAX_PENDING_TO_CLIENT) {
                pendingToClient.decrementAndGet();
                proxy.drops.count(DatagramDrops.Reason.CLIENT_BEHIND); // the client's loop is behind: UDP drops rather than queues
                return;
            }
            ByteBuf copy = payload.retainedDuplicate();
            // Onto the connection's loop: the datagram and the stream belong to it.
            stream.eventLoop().execute(() -> {
                pendingToClient.decrementAndGet();
                toClient(copy, size);
            });
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            // An ICMP error for a connected UDP socket (port unreachable): UDP is lossy, the tunnel stays.
            proxy.drops.count(DatagramDrops.Reason.TARGET_ERROR);
        }
    }

    private void toClient(ByteBuf payload, int size) {
        if (closed.get() || !stream.isActive()) {
            payload.release();
            return;
        }
        switch (connection.toClient(stream, payload)) {
            case DATAGRAM -> datagramsOut.increment();
            case CAPSULE -> capsulesOut.increment();
            default -> { } // counted by the connection
        }
    }

    @Override
    public long lastActivityNanos() {
        return lastActivityNanos;
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        if (idleCheck != null) {
            idleCheck.cancel(false);
        }
        connection.byStream.remove(stream.streamId(), this);
        proxy.tunnels.remove(this);
        slot.close();
        DatagramChannel s = socket;
        if (s != null) {
            s.close();
        }
    }
}
