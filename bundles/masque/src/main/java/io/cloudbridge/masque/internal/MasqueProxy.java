package io.cloudbridge.masque.internal;

import io.cloudbridge.api.auth.CredentialRejectedException;
import io.cloudbridge.api.auth.IdentityVerifier;
import io.cloudbridge.api.auth.VerifiedIdentity;
import io.cloudbridge.api.relay.AuthenticatedNode;
import io.cloudbridge.api.relay.CredentialRevocations;
import io.cloudbridge.api.relay.NodeSessionAuthenticator;
import io.cloudbridge.relay.spi.QuicRoute;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.handler.codec.http3.DefaultHttp3SettingsFrame;
import io.netty.handler.codec.http3.Http3ServerConnectionHandler;
import io.netty.handler.codec.http3.Http3Settings;
import io.netty.handler.codec.http3.Http3SettingsFrame;
import io.netty.handler.codec.quic.QuicChannel;
import io.netty.handler.codec.quic.QuicStreamChannel;
import io.netty.util.ReferenceCountUtil;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;
import org.osgi.service.metatype.annotations.Designate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The relay's MASQUE proxy: HTTP/3 (ALPN {@code h3}) on the relay's QUIC listener, advertising
 * SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 9220) and SETTINGS_H3_DATAGRAM (RFC 9297), serving
 * CONNECT-UDP (RFC 9298) to any client that speaks the RFCs. Requests carry
 * {@code Authorization: Bearer} with a node token or an OIDC access token; the tenant it names
 * decides which targets pass ({@link TargetPolicy}).
 *
 * <p>UDP payloads travel in HTTP Datagrams (QUIC DATAGRAM frames) when the client enabled them,
 * and in DATAGRAM capsules on the request stream otherwise, or when a payload does not fit the
 * client's datagram limit.
 */
@Component(service = {QuicRoute.class, MasqueProxy.class}, configurationPid = "cloudbridge.masque", immediate = true)
@Designate(ocd = MasqueConfig.class)
public final class MasqueProxy implements QuicRoute {
    private static final Logger LOG = LoggerFactory.getLogger(MasqueProxy.class);
    static final Logger SECURITY = LoggerFactory.getLogger("io.cloudbridge.security");

    /** Streams are served by the HTTP/3 handlers; the listener's own stream hook passes them on. */
    @ChannelHandler.Sharable
    private static final class PassThrough extends ChannelInboundHandlerAdapter {
    }

    private static final ChannelHandler PASS_THROUGH = new PassThrough();

    private final NodeSessionAuthenticator nodes;
    /** Where each admitted request binds itself to its bearer token: a revoked or expired token ends its tunnel. */
    final CredentialRevocations revocations;
    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC)
    private volatile IdentityVerifier users;

    final MasqueConfig config;
    final UriTemplate udpTemplate;
    final UriTemplate ipTemplate;
    /** The relay's CONNECT-IP gateways: present where the control and data planes run (a relay). */
    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY)
    volatile TenantGateways gateways;
    final Set<IpSession> ipSessions = ConcurrentHashMap.newKeySet();
    final TargetPolicy policy;
    /** UDP sockets toward the targets: their own loop, so the QUIC loop's I/O type does not matter. */
    final EventLoopGroup udpGroup;
    /**
     * Token checks (and CONNECT-IP gateways' set-up) block: never on an event loop; taken in turn by
     * connection, so one connection's flood of requests waits behind itself. Name look-ups
     * do not run here (see {@link TargetResolver}): one tenant's slow names must not hold the
     * threads every tenant's requests are checked on.
     */
    final FairChecks checks = new FairChecks(2, 64, 1024, "masque-checks");
    /** Who may hold which of the proxy's tunnels, sessions and look-ups: per client, per tenant and in all. */
    final Admission admission;
    /** CONNECT-UDP targets' names, asynchronously, on the UDP loop. */
    final TargetResolver resolver;
    final Set<UdpTunnel> tunnels = ConcurrentHashMap.newKeySet();
    private final Set<QuicChannel> connections = ConcurrentHashMap.newKeySet();
    /** Requests refused, by HTTP status. */
    final Map<Integer, LongAdder> refusals = new ConcurrentHashMap<>();
    final DatagramDrops drops = new DatagramDrops();

    @Activate
    public MasqueProxy(@Reference NodeSessionAuthenticator nodes, @Reference CredentialRevocations revocations, MasqueConfig config) {
        this.nodes = nodes;
        this.revocations = revocations;
        this.config = config;
        this.udpTemplate = new UriTemplate(config.udpTemplate());
        if (!udpTemplate.hasVariable("target_host") || !udpTemplate.hasVariable("target_port")) {
            throw new IllegalArgumentException("masque.udpTemplate needs {target_host} and {target_port}: " + config.udpTemplate());
        }
        this.ipTemplate = new UriTemplate(config.ipTemplate());
        this.policy = new TargetPolicy(config.allow(), config.deny(), MasqueProxy::ownAddresses);
        this.admission = new Admission(Admission.Limits.of(config));
        List<String> nameservers = List.of(config.nameservers());
        TargetResolver.parse(nameservers); // a bad entry fails the component with its reason before anything starts
        this.udpGroup = new MultiThreadIoEventLoopGroup(1, r -> {
            Thread t = new Thread(r, "masque-udp");
            t.setDaemon(true);
            return t;
        }, NioIoHandler.newFactory());
        this.resolver = new TargetResolver(udpGroup.next(), nameservers, config.resolveTimeoutMillis());
        LOG.info("MASQUE proxy on the relay's QUIC listener (h3): CONNECT-UDP at {}, tunnels idle out after {} s; limits {}; "
                + "names resolved by {} within {} ms", config.udpTemplate(), config.idleSeconds(), admission.limits(),
                nameservers.isEmpty() ? "the system's name servers" : nameservers, config.resolveTimeoutMillis());
    }

    @Deactivate
    void deactivate() {
        checks.shutdownNow();
        for (QuicChannel c : connections) {
            // H3_NO_ERROR: the proxy is going away; clients dial again (another relay, or this one later).
            c.close(true, 0x100, Unpooled.copiedBuffer("MASQUE proxy removed", StandardCharsets.UTF_8));
        }
        tunnels.forEach(UdpTunnel::close);
        List.copyOf(ipSessions).forEach(IpSession::close);
        resolver.close();
        udpGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }

    @Override
    public String alpn() {
        return "h3";
    }

    @Override
    public void accept(QuicChannel connection) {
        Connection conn = new Connection(this, connection);
        connection.attr(STREAM_HANDLER).set(() -> PASS_THROUGH);
        Http3Settings settings = Http3Settings.defaultSettings().enableConnectProtocol(true).enableH3Datagram(true);
        connection.pipeline().addLast(new Http3ServerConnectionHandler(new ChannelInitializer<QuicStreamChannel>() {
            @Override
            protected void initChannel(QuicStreamChannel stream) {
                stream.pipeline().addLast(new RequestStream(MasqueProxy.this, conn));
            }
        }, new ControlFrames(conn), null, new DefaultHttp3SettingsFrame(settings), true));
        connection.pipeline().addLast(conn);
        connections.add(connection);
        connection.closeFuture().addListener(f -> {
            connections.remove(connection);
            conn.closed();
        });
    }

    /** Who asked: a node of a tenant, or a signed-in user of one. */
    /**
     * Who a request comes from: its tenant, an id for the admission's counts, and who it is as the
     * tenant's access policy names it (the node it signed in as, or its OpenID user and groups).
     */
    record Client(String tenant, String id, String nodeId, String user, List<String> idpGroups) {
        Client {
            idpGroups = List.copyOf(idpGroups);
        }

        Client(String tenant, String id) {
            this(tenant, id, "", "", List.of());
        }

        String key() {
            return tenant + "/" + id;
        }
    }

    /**
     * The client a bearer token names. Blocks (database, JWKS): on {@link #checks} only.
     *
     * @throws CredentialRejectedException neither a node token nor an access token this relay accepts
     */
    Client authenticate(String bearer) throws CredentialRejectedException {
        CredentialRejectedException nodeRefusal;
        try {
            AuthenticatedNode node = nodes.authenticate(bearer);
            return new Client(node.tenant(), "node " + node.nodeId(), node.nodeId(), "", List.of());
        } catch (CredentialRejectedException e) {
            nodeRefusal = e;
        }
        IdentityVerifier verifier = users;
        if (verifier == null) {
            throw nodeRefusal;
        }
        VerifiedIdentity user = verifier.verify(bearer);
        return new Client(user.tenant(), "user " + user.subject(), "", user.subject(), user.groups());
    }

    void refused(int status) {
        refusals.computeIfAbsent(status, s -> new LongAdder()).increment();
    }

    private static Set<InetAddress> ownAddresses() {
        Set<InetAddress> own = new HashSet<>();
        try {
            for (NetworkInterface i : Collections.list(NetworkInterface.getNetworkInterfaces())) {
                own.addAll(Collections.list(i.getInetAddresses()));
            }
        } catch (SocketException e) {
            LOG.debug("cannot list this host's addresses: {}", e.toString());
        }
        return own;
    }

    /** The client's control stream: whether it enabled HTTP Datagrams (SETTINGS_H3_DATAGRAM = 1). */
    private static final class ControlFrames extends ChannelInboundHandlerAdapter {
        private final Connection conn;

        ControlFrames(Connection conn) {
            this.conn = conn;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                if (msg instanceof Http3SettingsFrame settings) {
                    Boolean datagrams = settings.settings().h3DatagramEnabled();
                    conn.peerDatagrams = datagrams != null && datagrams;
                    LOG.debug("HTTP/3 settings of {}: {}; DATAGRAM frames up to {} bytes on its path now", conn.channel.remoteSocketAddress(),
                            settings.settings(), conn.path.get());
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }
    }

    /** One client's QUIC connection: its HTTP Datagrams, to the tunnel of their request stream. */
    static final class Connection extends ChannelInboundHandlerAdapter {
        final MasqueProxy proxy;
        final QuicChannel channel;
        /** Open tunnels by request stream id; touched on the connection's event loop only. */
        final Map<Long, StreamTunnel> byStream = new ConcurrentHashMap<>();
        volatile boolean peerDatagrams;
        /** The largest HTTP Datagram this connection's path carries now. */
        final PathDatagramLimit path;

        Connection(MasqueProxy proxy, QuicChannel channel) {
            this.proxy = proxy;
            this.channel = channel;
            this.path = PathDatagramLimit.follow(channel, channel.attr(PEER_MAX_DATAGRAM).get());
        }

        /** How a payload went to the client. */
        enum Sent { DATAGRAM, CAPSULE, DROPPED }

        /**
         * Sends one payload to the client on {@code stream}'s tunnel (released): an HTTP Datagram
         * when the client enabled them and it fits the path, else a DATAGRAM capsule on the
         * stream, unless the stream's buffer is full (a client that does not read its stream must
         * not make the proxy queue without end: the payload is dropped, as UDP would). On the
         * connection's event loop.
         */
        Sent toClient(QuicStreamChannel stream, ByteBuf payload) {
            long streamId = stream.streamId();
            if (datagramFits(VarInt.size(streamId >> 2) + 1 + payload.readableBytes())) {
                channel.writeAndFlush(HttpDatagrams.quicDatagram(stream.alloc(), streamId, payload), channel.voidPromise());
                return Sent.DATAGRAM;
            }
            if (!stream.isWritable()) {
                payload.release();
                proxy.drops.count(DatagramDrops.Reason.CLIENT_STREAM_FULL);
                return Sent.DROPPED;
            }
            // The client did not enable HTTP Datagrams, or this one is over its limit: the stream carries it.
            stream.writeAndFlush(new io.netty.handler.codec.http3.DefaultHttp3DataFrame(Capsules.encode(stream.alloc(), Capsules.DATAGRAM,
                    HttpDatagrams.capsuleValue(stream.alloc(), payload))), stream.voidPromise());
            return Sent.CAPSULE;
        }

        /** Payloads handed to a connection's loop and not sent yet, per tunnel at most: past it they are dropped. */
        static final int MAX_PENDING_TO_CLIENT = 1024;

        /** Whether a datagram of {@code size} bytes (ids included) can go as a QUIC DATAGRAM frame now. */
        boolean datagramFits(int size) {
            if (!peerDatagrams) {
                return false;
            }
            // A client that sent SETTINGS_H3_DATAGRAM = 1 has the QUIC datagram extension on (RFC 9297 section 2.1.1).
            return size <= path.get();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (!(msg instanceof ByteBuf frame)) {
                ctx.fireChannelRead(msg);
                return;
            }
            try {
                HttpDatagrams.Datagram d = HttpDatagrams.parseQuic(frame);
                if (d == null || d.contextId() != HttpDatagrams.PAYLOAD_CONTEXT) {
                    proxy.drops.count(DatagramDrops.Reason.UNKNOWN_CONTEXT); // no context, or one this proxy never agreed to
                    return;
                }
                StreamTunnel tunnel = byStream.get(d.streamId());
                if (tunnel == null) {
                    proxy.drops.count(DatagramDrops.Reason.NO_TUNNEL); // no such tunnel (yet, or any more)
                    return;
                }
                tunnel.fromClient(d.payload(), true);
            } catch (HttpDatagrams.MalformedDatagramException e) {
                SECURITY.info("MASQUE connection from {} closed: {}", channel.remoteSocketAddress(), e.getMessage());
                channel.close(true, HttpDatagrams.H3_DATAGRAM_ERROR, Unpooled.copiedBuffer(e.getMessage(), StandardCharsets.UTF_8));
            } finally {
                frame.release();
            }
        }

        void closed() {
            List.copyOf(byStream.values()).forEach(StreamTunnel::close);
            byStream.clear();
        }
    }
}
