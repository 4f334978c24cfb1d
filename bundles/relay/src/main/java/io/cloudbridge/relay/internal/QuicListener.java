package io.cloudbridge.relay.internal;

import io.cloudbridge.api.relay.RelayIdentity;
import io.cloudbridge.relay.spi.QuicRoute;
import io.cloudbridge.transport.support.SocketBuffers;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.FixedRecvByteBufAllocator;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.channel.unix.IntegerUnixChannelOption;
import io.netty.handler.codec.quic.EpollQuicUtils;
import io.netty.handler.codec.quic.Quic;
import io.netty.handler.codec.quic.QuicChannel;
import io.netty.handler.codec.quic.QuicChannelOption;
import io.netty.handler.codec.quic.QuicCodecDispatcher;
import io.netty.handler.codec.quic.QuicConnectionIdGenerator;
import io.netty.handler.codec.quic.QuicServerCodecBuilder;
import io.netty.handler.codec.quic.QuicSslContext;
import io.netty.handler.codec.quic.QuicSslContextBuilder;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The relay's QUIC listener (UDP): TLS 1.3 with the relay's certificate, a Retry for address
 * validation, and each connection handed by its ALPN to the route that serves it
 * ({@code cloudbridge/2} and {@code cloudbridge/1}: the QUIC transport; {@code h3}: MASQUE). A protocol without a route
 * is closed at once with the reason. Routes come and go with their plugins; the port stays.
 */
// The 'listeners' section's description is designated once, by TlsListener; both read it.
@Component(service = QuicListener.class, configurationPid = "cloudbridge.listeners", immediate = true)
public final class QuicListener {
    private static final Logger LOG = LoggerFactory.getLogger(QuicListener.class);
    /** The protocols the relay speaks over QUIC: its transport, and HTTP/3 for MASQUE. */
    /** Version 2 of the QUIC transport first: a node that offers both gets it (the AUTH line carries the flow's id). */
    static final String[] PROTOCOLS = {"cloudbridge/2", "cloudbridge/1", "h3"};
    /**
     * The largest UDP payload received, and advertised to peers (QUIC's max_udp_payload_size):
     * room for a 1,500-byte link's 1,472 and some slack. It is also the slot size of a batched
     * read, so a larger value would cost memory per read for datagrams nobody sends.
     */
    static final int MAX_RECV_UDP_PAYLOAD = 2_048;
    /** IPv4 and UDP headers: the UDP payload a link carries is its MTU less these. */
    static final int IPV4_UDP_HEADERS = 28;
    /** Where no interface tells (or NIO, which cannot send with don't-fragment): a 1,500-byte link. */
    static final int DEFAULT_MAX_SEND_UDP_PAYLOAD = 1_472;
    /**
     * Datagrams per system call with epoll: read with recvmmsg, and the QUIC packets of one
     * connection written in one flush go out as one UDP GSO send. A relay forwards a packet per
     * packet, so without batching each costs a read and a write system call of its own.
     */
    static final int DATAGRAMS_PER_CALL = 16;
    static final int MAX_UDP_PAYLOAD = 65_527;

    private final Map<String, QuicRoute> routes = new ConcurrentHashMap<>();
    /** Protocols likely coming back: closed with BUSY, not "no handler". */
    private final RouteRestarts restarts = new RouteRestarts(true);
    /**
     * The close of a connection whose protocol's plugin is restarting: the transport's "come back
     * later" (its BUSY line and close code, which a node of that protocol honours; one that does not
     * know them takes it for an ordinary loss and dials again with its backoff).
     */
    static final int BUSY_CLOSE = 0x102;
    static final int RESTART_RETRY_SECONDS = 1;
    private EventLoopGroup group;
    /** The listener's sockets, all on the QUIC port: one per event loop. */
    private final java.util.List<Channel> sockets = new java.util.concurrent.CopyOnWriteArrayList<>();

    @Reference
    private RelayIdentity identity;

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC)
    void addRoute(QuicRoute route) {
        if (routes.putIfAbsent(route.alpn(), route) == null) {
            restarts.served(route.alpn());
            LOG.info("relay QUIC protocol {} served by {}", route.alpn(), route.getClass().getName());
        }
    }

    void removeRoute(QuicRoute route) {
        if (routes.remove(route.alpn(), route)) {
            restarts.removed(route.alpn());
            LOG.info("relay QUIC protocol {} removed", route.alpn());
        }
    }

    @Activate
    void activate(ListenerConfig config) throws Exception {
        start(identity, config);
    }

    void start(RelayIdentity id, ListenerConfig config) throws Exception {
        restarts.started(config.routeRestartSeconds());
        if (config.quicPort() < 0) {
            LOG.info("no QUIC listener (listeners.quicPort is {})", config.quicPort());
            return;
        }
        if (!Quic.isAvailable()) {
            LOG.warn("no QUIC listener: QUIC's native code is not available here ({})", String.valueOf(Quic.unavailabilityCause()));
            return;
        }
        QuicSslContext tls = QuicSslContextBuilder.forServer(id.privateKey(), null, id.certificate())
                .applicationProtocols(PROTOCOLS).build();
        boolean epoll = Epoll.isAvailable();
        // One socket is read by one event loop, and every tenant's transport and h3 traffic (and
        // the CONNECT-IP gateways' decryption) ran on that one thread. With epoll, N sockets share
        // the port (SO_REUSEPORT: the kernel spreads clients over them by address and port), each
        // on its own loop; NIO cannot share a port, so it keeps one.
        int loops = epoll ? eventLoops(config) : 1;
        int sendPayload = epoll ? largestSendPayload(config.address()) : DEFAULT_MAX_SEND_UDP_PAYLOAD;
        // One token key for every socket: a client's Initial after a Retry validates on whichever socket it lands.
        AddressTokens tokens = new AddressTokens();
        Dispatch dispatch = new Dispatch();
        ChannelHandler handler;
        if (loops == 1) {
            handler = codec(tls, config, epoll, sendPayload, tokens, dispatch).build();
        } else {
            // A connection's packets reach the socket its 4-tuple hashes to; when its address
            // changes (a NAT rebinding) they may reach another. The dispatcher writes each socket's
            // index into the connection ids it issues and hands a short-header packet to the codec
            // that has its connection, whichever socket read it.
            handler = new QuicCodecDispatcher() {
                @Override
                protected void initChannel(Channel channel, int localConnectionIdLength, QuicConnectionIdGenerator ids) {
                    channel.pipeline().addLast(codec(tls, config, epoll, sendPayload, tokens, dispatch)
                            .localConnectionIdLength(localConnectionIdLength)
                            .connectionIdAddressGenerator(ids)
                            .build());
                }
            };
        }
        group = new MultiThreadIoEventLoopGroup(loops, epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
        Bootstrap bootstrap = SocketBuffers.deep(new Bootstrap().group(group).handler(handler));
        if (epoll) {
            bootstrap.channel(EpollDatagramChannel.class)
                    .option(EpollChannelOption.MAX_DATAGRAM_PAYLOAD_SIZE, MAX_RECV_UDP_PAYLOAD)
                    .option(ChannelOption.RCVBUF_ALLOCATOR, new FixedRecvByteBufAllocator(MAX_RECV_UDP_PAYLOAD * DATAGRAMS_PER_CALL))
                    // Don't-fragment, and no fragmenting here (Linux's IP_PMTUDISC_PROBE): QUIC's path
                    // MTU probes towards each node must be lost when too large, not split.
                    .option(new IntegerUnixChannelOption("IP_MTU_DISCOVER", 0, 10), 3)
                    .option(new IntegerUnixChannelOption("IPV6_MTU_DISCOVER", 41, 23), 3);
            if (loops > 1) {
                bootstrap.option(EpollChannelOption.SO_REUSEPORT, true);
            }
        } else {
            bootstrap.channel(NioDatagramChannel.class);
        }
        // The first socket picks the port (when 0 asks for any); the others join it. Each bind
        // registers its channel with the group's next loop, so each socket has a loop of its own.
        Channel first = bootstrap.bind(new InetSocketAddress(config.address(), config.quicPort())).sync().channel();
        sockets.add(first);
        SocketBuffers.check(first, "relay QUIC listener");
        int port = ((InetSocketAddress) first.localAddress()).getPort();
        for (int i = 1; i < loops; i++) {
            sockets.add(bootstrap.bind(new InetSocketAddress(config.address(), port)).sync().channel());
        }
        LOG.info("relay QUIC listener on {} (ALPN {}, certificate fingerprint {}, {})", first.localAddress(),
                String.join(", ", PROTOCOLS), id.fingerprint(),
                epoll ? "epoll, " + loops + " event loops with a socket each, " + DATAGRAMS_PER_CALL + " datagrams per system call"
                        : "NIO, one event loop: " + Epoll.unavailabilityCause());
    }

    /** As configured, or one per processor. */
    static int eventLoops(ListenerConfig config) {
        return config.quicEventLoops() > 0 ? config.quicEventLoops() : Runtime.getRuntime().availableProcessors();
    }

    /** A codec builder for one socket; every socket's codec is the same but for its connection ids. */
    private static QuicServerCodecBuilder codec(QuicSslContext tls, ListenerConfig config, boolean epoll, int sendPayload,
            AddressTokens tokens, Dispatch dispatch) {
        QuicServerCodecBuilder builder = new QuicServerCodecBuilder();
        if (epoll) {
            builder.option(QuicChannelOption.SEGMENTED_DATAGRAM_PACKET_ALLOCATOR, EpollQuicUtils.newSegmentedAllocator(DATAGRAMS_PER_CALL));
        }
        return builder.sslContext(tls)
                .maxIdleTimeout(Math.max(5, config.quicIdleSeconds()), TimeUnit.SECONDS)
                .maxRecvUdpPayloadSize(MAX_RECV_UDP_PAYLOAD)
                .maxSendUdpPayloadSize(sendPayload)
                .discoverPmtu(true)
                .initialMaxData(1 << 20)
                .initialMaxStreamDataBidirectionalRemote(64 * 1024)
                .initialMaxStreamDataBidirectionalLocal(64 * 1024)
                // HTTP/3 (the MASQUE route, h3) opens a request stream per tunnel and needs three
                // unidirectional streams (control and QPACK); cloudbridge/1 uses one stream.
                .initialMaxStreamsBidirectional(256)
                .initialMaxStreamsUnidirectional(16)
                .initialMaxStreamDataUnidirectional(64 * 1024)
                .datagram(4096, 4096)
                .tokenHandler(tokens)
                .handler(dispatch)
                .streamHandler(new io.netty.channel.ChannelInitializer<io.netty.handler.codec.quic.QuicStreamChannel>() {
                    @Override
                    protected void initChannel(io.netty.handler.codec.quic.QuicStreamChannel stream) {
                        java.util.function.Supplier<ChannelHandler> handler = stream.parent().attr(QuicRoute.STREAM_HANDLER).get();
                        if (handler == null) {
                            stream.close(); // no route took the connection (yet): not ours to serve
                        } else {
                            stream.pipeline().addLast(handler.get());
                        }
                    }
                });
    }

    /**
     * The largest UDP payload the relay's path MTU discovery searches up to, towards each node: what
     * the interface of the listening address carries, or the widest interface when it listens on
     * all. Each connection then finds what its own path carries (don't-fragment probes) and stays
     * within what the node says it takes.
     */
    static int largestSendPayload(String listenAddress) {
        try {
            java.net.InetAddress bound = java.net.InetAddress.getByName(listenAddress);
            int mtu = 0;
            if (bound.isAnyLocalAddress()) {
                for (java.net.NetworkInterface nic : java.util.Collections.list(java.net.NetworkInterface.getNetworkInterfaces())) {
                    if (nic.isUp() && !nic.isLoopback()) {
                        mtu = Math.max(mtu, nic.getMTU());
                    }
                }
            } else {
                java.net.NetworkInterface nic = java.net.NetworkInterface.getByInetAddress(bound);
                mtu = nic == null ? 0 : nic.getMTU();
            }
            return mtu <= 0 ? DEFAULT_MAX_SEND_UDP_PAYLOAD : Math.min(MAX_UDP_PAYLOAD, Math.max(1_200, mtu - IPV4_UDP_HEADERS));
        } catch (java.io.IOException e) {
            return DEFAULT_MAX_SEND_UDP_PAYLOAD;
        }
    }

    int port() {
        return sockets.isEmpty() ? -1 : ((InetSocketAddress) sockets.get(0).localAddress()).getPort();
    }

    /** The sockets the listener reads, for tests. */
    java.util.List<Channel> sockets() {
        return java.util.List.copyOf(sockets);
    }

    @Deactivate
    void deactivate() {
        for (Channel socket : sockets) {
            socket.close().syncUninterruptibly();
        }
        sockets.clear();
        if (group != null) {
            group.shutdownGracefully(0, 2, TimeUnit.SECONDS);
        }
    }

    /** Hands each connection, once its handshake is done, to the route of its ALPN. */
    @ChannelHandler.Sharable
    private final class Dispatch extends ChannelInboundHandlerAdapter {
        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            QuicChannel connection = (QuicChannel) ctx.channel();
            String alpn = connection.sslEngine() == null ? null : connection.sslEngine().getApplicationProtocol();
            QuicRoute route = alpn == null ? null : routes.get(alpn);
            ctx.pipeline().remove(this);
            if (route == null && alpn != null && !alpn.equals("h3") && restarts.restarting(alpn)) {
                // As the TLS listener's 503: the plugin is coming back, the node should not set the transport aside.
                LOG.debug("QUIC connection from {} for {}: its plugin is restarting", connection.remoteSocketAddress(), alpn);
                connection.close(true, BUSY_CLOSE, io.netty.buffer.Unpooled.copiedBuffer("BUSY " + RESTART_RETRY_SECONDS
                        + " the plugin serving " + alpn + " is restarting", StandardCharsets.UTF_8));
                return;
            }
            if (route == null) {
                LOG.debug("QUIC connection from {} for {}: no route", connection.remoteSocketAddress(), alpn);
                connection.close(true, 0x100, io.netty.buffer.Unpooled.copiedBuffer("no handler for ALPN " + alpn,
                        StandardCharsets.UTF_8));
                return;
            }
            try {
                route.accept(connection);
            } catch (RuntimeException e) {
                LOG.warn("QUIC route {} failed: {}", alpn, e.toString());
                connection.close(true, 0x101, io.netty.buffer.Unpooled.copiedBuffer("the route failed", StandardCharsets.UTF_8));
            }
            ctx.fireChannelActive();
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof io.netty.handler.codec.quic.QuicDatagramExtensionEvent e) {
                // Fired just before channelActive, so before any route has the connection: kept for it.
                ctx.channel().attr(QuicRoute.PEER_MAX_DATAGRAM).set(e.maxLength());
            }
            ctx.fireUserEventTriggered(evt);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            LOG.debug("QUIC connection ended: {}", cause.toString());
            ctx.close();
        }
    }
}
