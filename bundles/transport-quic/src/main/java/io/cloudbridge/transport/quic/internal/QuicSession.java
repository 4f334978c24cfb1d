package io.cloudbridge.transport.quic.internal;

import io.cloudbridge.boot.log.Correlation;
import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.api.transport.PacketReceiver;
import io.cloudbridge.transport.support.Outbox;
import io.cloudbridge.transport.support.RelaySession;
import io.cloudbridge.transport.support.SocketBuffers;
import io.cloudbridge.api.transport.RelayEndpoint;
import io.cloudbridge.api.transport.SessionCredentials;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.ChannelOption;
import io.netty.channel.FixedRecvByteBufAllocator;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.handler.codec.quic.EpollQuicUtils;
import io.netty.handler.codec.quic.QuicChannelOption;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.handler.codec.quic.QuicChannel;
import io.netty.handler.codec.quic.QuicClientCodecBuilder;
import io.netty.handler.codec.quic.QuicConnectionCloseEvent;
import io.netty.handler.codec.quic.QuicConnectionPathStats;
import io.netty.handler.codec.quic.QuicDatagramExtensionEvent;
import io.netty.handler.codec.quic.QuicSslContext;
import io.netty.handler.codec.quic.QuicSslContextBuilder;
import io.netty.handler.codec.quic.QuicStreamChannel;
import io.netty.handler.codec.quic.QuicStreamType;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * A node's session with its relay over QUIC: one connection, overlay packets in DATAGRAM frames,
 * a control stream for sign-in and keepalive. After the first connection it keeps itself
 * connected, dialling again with jittered exponential backoff; it ends for good when closed or
 * when the relay closes it for a reason of policy.
 */
final class QuicSession extends RelaySession {
    private final EventLoopGroup group;
    private final SessionCredentials credentials;
    private final InetSocketAddress address;
    private final QuicSslContext tls;
    private volatile Channel socket;
    private volatile QuicChannel connection;
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(QuicSession.class);
    /** How often a connected session looks at the path MTU again (a path can change under it). */
    static final long PATH_CHECK_MILLIS = 5_000;
    /** The largest DATAGRAM frame the session sends now ({@code [key][packet]}). */
    /** When the current connection attempt began. */
    private volatile long dialledNanos;
    /** How often the node PINGs the relay, and how long a silent relay is given before it is taken for gone. */
    private final long pingMillis;
    private final long deadAfterNanos;
    private volatile int maxDatagram = QuicWire.MAX_SEND_UDP_PAYLOAD - PathMtu.QUIC_DATAGRAM_OVERHEAD;

    QuicSession(EventLoopGroup group, RelayEndpoint relay, SessionCredentials credentials, PacketReceiver receiver,
            long minBackoffMillis, long maxBackoffMillis, long pingMillis, long deadAfterMillis) {
        super(relay, receiver, group, minBackoffMillis, maxBackoffMillis);
        this.pingMillis = pingMillis;
        this.deadAfterNanos = TimeUnit.MILLISECONDS.toNanos(deadAfterMillis);
        this.group = group;
        this.credentials = credentials;
        URI u = relay.uri();
        this.address = new InetSocketAddress(u.getHost(), u.getPort() > 0 ? u.getPort() : 443);
        QuicSslContextBuilder builder = QuicSslContextBuilder.forClient().applicationProtocols(QuicWire.ALPN_WITH_FLOW, QuicWire.ALPN);
        if (relay.certificateSha256().isPresent()) {
            builder.trustManager(relay.pinnedTrust());
        }
        this.tls = builder.build();
    }

    @Override
    protected void dial() {
        if (!wanted()) {
            return;
        }
        // Path MTU discovery searches up to what the first hop carries; without don't-fragment
        // (no epoll here) a probe could be fragmented and "succeed", so it keeps to a 1,500-byte link.
        dialledNanos = System.nanoTime();
        int maxUdpPayload = QuicWire.MAX_SEND_UDP_PAYLOAD;
        if (PathMtu.canProbe()) {
            try {
                maxUdpPayload = PathMtu.firstHopPayload(address);
            } catch (java.io.IOException | RuntimeException e) {
                lost("no route to " + address + ": " + e.getMessage(), false);
                return;
            }
        }
        ChannelHandler codec = new QuicClientCodecBuilder().sslContext(tls)
                .maxIdleTimeout(30, TimeUnit.SECONDS)
                .maxRecvUdpPayloadSize(QuicWire.MAX_RECV_UDP_PAYLOAD)
                .maxSendUdpPayloadSize(maxUdpPayload)
                .discoverPmtu(true)
                .initialMaxData(1 << 20)
                .initialMaxStreamDataBidirectionalLocal(64 * 1024)
                .initialMaxStreamDataBidirectionalRemote(64 * 1024)
                .initialMaxStreamsBidirectional(0) // the relay opens no streams
                .datagram(4096, 4096)
                .build();
        Bootstrap udpBootstrap = SocketBuffers.deep(new Bootstrap().group(group).handler(codec));
        if (PathMtu.canProbe()) {
            // Several datagrams per system call both ways, as on the relay: recvmmsg, and UDP GSO
            // for the packets of one flush (a burst of WireGuard packets is one send).
            PathMtu.dontFragment(udpBootstrap.channel(EpollDatagramChannel.class))
                    .option(EpollChannelOption.MAX_DATAGRAM_PAYLOAD_SIZE, QuicWire.MAX_RECV_UDP_PAYLOAD)
                    .option(ChannelOption.RCVBUF_ALLOCATOR,
                            new FixedRecvByteBufAllocator(QuicWire.MAX_RECV_UDP_PAYLOAD * QuicWire.DATAGRAMS_PER_CALL));
        } else {
            udpBootstrap.channel(NioDatagramChannel.class);
        }
        udpBootstrap.bind(0).addListener(bound -> {
            if (!bound.isSuccess()) {
                lost("no UDP socket: " + bound.cause(), false);
                return;
            }
            Channel udp = ((io.netty.channel.ChannelFuture) bound).channel();
            socket = udp;
            SocketBuffers.check(udp, "QUIC session to " + address);
            Connection handler = new Connection();
            io.netty.handler.codec.quic.QuicChannelBootstrap quicBootstrap = QuicChannel.newBootstrap(udp);
            if (udp instanceof EpollDatagramChannel) {
                quicBootstrap.option(QuicChannelOption.SEGMENTED_DATAGRAM_PACKET_ALLOCATOR,
                        EpollQuicUtils.newSegmentedAllocator(QuicWire.DATAGRAMS_PER_CALL));
            }
            quicBootstrap.handler(handler).remoteAddress(address).connect().addListener(f -> {
                if (!f.isSuccess()) {
                    udp.close();
                    lost("cannot connect: " + f.cause(), false);
                    return;
                }
                QuicChannel quic = (QuicChannel) f.getNow();
                connection = quic;
                quic.createStream(QuicStreamType.BIDIRECTIONAL, handler.control()).addListener(s -> {
                    if (!s.isSuccess()) {
                        quic.close();
                        return;
                    }
                    QuicStreamChannel stream = (QuicStreamChannel) s.getNow();
                    // The attempt's id to a relay that takes it (the protocol both agreed on says so).
                    boolean takesFlow = quic.sslEngine() != null
                            && QuicWire.ALPN_WITH_FLOW.equals(quic.sslEngine().getApplicationProtocol());
                    String flow = flow();
                    String auth = "AUTH " + credentials.token().get() + (takesFlow && Correlation.valid(flow) ? " " + flow : "");
                    stream.writeAndFlush(Unpooled.copiedBuffer(auth + "\n", StandardCharsets.UTF_8));
                });
            });
        });
    }

    /** The connection's handler: datagrams in, its close, and the control stream. */
    private final class Connection extends ChannelInboundHandlerAdapter {
        private final byte[] keyBytes = new byte[QuicWire.KEY_LENGTH];
        private ScheduledFuture<?> pings;
        private ScheduledFuture<?> pathChecks;
        private long pathMtu = -1;
        private long settleStarted;
        private long connectNanos;
        private long lastLimitChange;
        private int relayLimit = Integer.MAX_VALUE;
        private int frameLimit = Integer.MAX_VALUE;
        private int pathLimit = QuicWire.MAX_SEND_UDP_PAYLOAD - PathMtu.QUIC_DATAGRAM_OVERHEAD;
        private long pingSentNanos;
        private long lastHeardNanos;
        private String closeReason;
        private boolean closeTerminal;
        /** What a BUSY line asked: dial again after this. */
        private java.time.Duration retryAfter;

        ChannelHandler control() {
            return QuicWire.lines(this::onLine, cause -> {
                closeReason = "control stream failed: " + cause;
                QuicChannel c = connection;
                if (c != null) {
                    c.close();
                }
            });
        }

        /** Anything from the relay (a control line, a datagram) shows it is there. */
        private void heard() {
            lastHeardNanos = System.nanoTime();
        }

        private void onLine(Channel ch, String text) {
            heard();
            ControlLine line = ControlLine.fromRelay(text);
            if (line.kind() == ControlLine.Kind.OK) {
                QuicChannel quic = (QuicChannel) ch.parent();
                if (line.number() != ControlLine.NO_NUMBER) {
                    relayLimit = line.number();
                }
                pings = quic.eventLoop().scheduleAtFixedRate(() -> {
                    long silent = System.nanoTime() - lastHeardNanos;
                    if (silent > deadAfterNanos) {
                        // A relay that was killed or restarted says nothing over UDP: dial again now
                        // rather than at QUIC's idle timeout.
                        closeReason = "the relay has not answered for " + TimeUnit.NANOSECONDS.toMillis(silent) + " ms";
                        quic.close();
                        return;
                    }
                    pingSentNanos = System.nanoTime();
                    ch.writeAndFlush(Unpooled.copiedBuffer("PING\n", StandardCharsets.UTF_8));
                }, pingMillis, pingMillis, TimeUnit.MILLISECONDS);
                settleStarted = lastLimitChange = System.nanoTime();
                connectNanos = settleStarted - dialledNanos;
                // Connected at once (a node whose address changed has no other path meanwhile), with
                // the size still being found: the node sizes its MTU, and moves peers off a working
                // path, only once it is.
                packetSizeFinding();
                checkPath(quic, () -> {
                    connected(new Outbox(quic, b -> b, maxDatagram - QuicWire.KEY_LENGTH),
                            address + ", datagrams up to " + maxDatagram + " bytes while path MTU discovery runs");
                    settle(quic);
                });
            } else if (line.kind() == ControlLine.Kind.GOAWAY) {
                relayGoingAway(line.argument());
            } else if (line.kind() == ControlLine.Kind.MTU && line.number() != ControlLine.NO_NUMBER) {
                relayLimit = line.number(); // what the relay's path to us carries
                updateLimit();
            } else if (line.kind() == ControlLine.Kind.PONG) {
                measuredRtt(System.nanoTime() - pingSentNanos);
            } else if (line.kind() == ControlLine.Kind.ERR) {
                closeReason = "relay refused the session: " + line.argument();
                closeTerminal = true;
            } else if (line.kind() == ControlLine.Kind.BUSY) {
                closeReason = "relay refused the session for now: " + line.argument();
                retryAfter = java.time.Duration.ofSeconds(line.number());
            }
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (!(msg instanceof ByteBuf datagram)) {
                ctx.fireChannelRead(msg);
                return;
            }
            try {
                heard();
                if (datagram.readableBytes() > QuicWire.KEY_LENGTH) {
                    datagram.readBytes(keyBytes);
                    receivedInBurst(NodeKey.of(keyBytes), datagram.nioBuffer(datagram.readerIndex(), datagram.readableBytes()));
                }
            } finally {
                datagram.release();
            }
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            burstEnded(); // the datagrams of this read, decrypted, go to the TUN device together
            ctx.fireChannelReadComplete();
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object event) throws Exception {
            if (event instanceof QuicDatagramExtensionEvent e) {
                frameLimit = e.maxLength();
                updateLimit();
            } else if (event instanceof QuicConnectionCloseEvent e) {
                String phrase = new String(e.reason(), StandardCharsets.UTF_8);
                if (closeReason == null) {
                    closeReason = "relay closed the session: " + (phrase.isEmpty() ? "error " + e.error() : phrase);
                }
                closeTerminal |= e.isApplicationClose() && e.error() == QuicWire.POLICY_CLOSE;
                if (e.isApplicationClose() && e.error() == QuicWire.BUSY_CLOSE && retryAfter == null) {
                    // The BUSY line did not arrive before the close (or the listener closed before any
                    // route saw the connection): the close's phrase repeats it.
                    ControlLine busy = ControlLine.fromRelay(phrase);
                    retryAfter = java.time.Duration.ofSeconds(busy.kind() == ControlLine.Kind.BUSY ? busy.number() : 2);
                    if (busy.kind() == ControlLine.Kind.BUSY) {
                        closeReason = "relay refused the session for now: " + busy.argument();
                    }
                }
            }
            super.userEventTriggered(ctx, event);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (closeReason == null) {
                closeReason = cause.getClass().getSimpleName() + ": " + cause.getMessage();
            }
            ctx.close();
        }

        /**
         * Waits for path MTU discovery to settle: QUIC starts at 1,200 bytes and searches up in a
         * few round trips. Settled: the limit (this side's and the relay's) has not changed for
         * {@link PathMtu#SETTLED_MILLIS} or three connection set-up times, whichever is longer, or
         * {@link PathMtu#SETTLE_AT_MOST_MILLIS} (or ten set-up times) have passed.
         */
        private void settle(QuicChannel quic) {
            checkPath(quic, () -> {
                if (!quic.isActive()) {
                    return;
                }
                long now = System.nanoTime();
                // Stable for long enough that a lost probe would have shown: the windows grow with the
                // time the connection took to come up (QUIC's handshake, a retry, the sign-in: some
                // three round trips), so a far relay is not declared settled before its first probe
                // could time out. Nothing short-circuits on reaching the most the first hop carries:
                // the relay's side (its MTU line) may still be on its way up.
                long stable = Math.max(TimeUnit.MILLISECONDS.toNanos(PathMtu.SETTLED_MILLIS), 3 * connectNanos);
                long atMost = Math.max(TimeUnit.MILLISECONDS.toNanos(PathMtu.SETTLE_AT_MOST_MILLIS), 10 * connectNanos);
                boolean settled = now - lastLimitChange >= stable || now - settleStarted >= atMost;
                if (!settled) {
                    quic.eventLoop().schedule(() -> settle(quic), PathMtu.SETTLE_POLL_MILLIS, TimeUnit.MILLISECONDS);
                    return;
                }
                packetSizeFound();
                pathChecks = quic.eventLoop().scheduleAtFixedRate(() -> checkPath(quic, () -> { }),
                        PATH_CHECK_MILLIS, PATH_CHECK_MILLIS, TimeUnit.MILLISECONDS);
            });
        }

        /**
         * Follows the path MTU that QUIC's discovery found: a DATAGRAM frame holds what fits a
         * packet of that size, and the relay's own limit caps it.
         */
        private void checkPath(QuicChannel quic, Runnable then) {
            quic.collectPathStats(0).addListener(f -> {
                if (f.isSuccess()) {
                    long pmtu = ((QuicConnectionPathStats) f.getNow()).pmtu();
                    if (pmtu != pathMtu) {
                        pathMtu = pmtu;
                        pathLimit = PathMtu.datagramLimit(pmtu);
                        updateLimit();
                        LOG.info("path to relay {}: QUIC packets of up to {} bytes ({}), datagrams up to {}", address, pmtu,
                                PathMtu.canProbe() ? "path MTU discovery with don't-fragment" : "no don't-fragment here: not probed",
                                maxDatagram);
                    }
                }
                then.run();
            });
        }

        /** The smallest of what the relay takes, the frame size it allows, and what the path carries. */
        private void updateLimit() {
            int limit = Math.min(relayLimit, Math.min(frameLimit, pathLimit));
            if (limit != maxDatagram) {
                maxDatagram = limit;
                lastLimitChange = System.nanoTime();
                outbox().ifPresent(o -> o.maxPacket(limit - QuicWire.KEY_LENGTH));
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            burstEnded(); // a read the close cut short: what it delivered is let go
            if (pings != null) {
                pings.cancel(false);
            }
            if (pathChecks != null) {
                pathChecks.cancel(false);
            }
            connection = null;
            Channel udp = socket;
            socket = null;
            if (udp != null) {
                udp.close();
            }
            String reason = closeReason == null ? "connection closed" : closeReason;
            if (retryAfter != null && !closeTerminal) {
                refusedForNow(reason, retryAfter);
            } else {
                lost(reason, closeTerminal);
            }
        }
    }

    @Override
    public String transportName() {
        return QuicTransport.NAME;
    }

    @Override
    public int maxPacketSize() {
        return maxDatagram - QuicWire.KEY_LENGTH;
    }

    @Override
    protected void disconnect() {
        QuicChannel c = connection;
        if (c != null) {
            c.close(true, 0, Unpooled.copiedBuffer("node leaving", StandardCharsets.UTF_8));
        }
        Channel udp = socket;
        if (udp != null) {
            udp.close();
        }
    }
}
