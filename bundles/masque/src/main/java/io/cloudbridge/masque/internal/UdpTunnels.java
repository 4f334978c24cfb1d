package io.cloudbridge.masque.internal;

import io.cloudbridge.api.transport.HomeRelay;
import io.cloudbridge.api.transport.RelayEndpoint;
import io.cloudbridge.api.tunnel.TunnelInfo;
import io.cloudbridge.api.tunnel.TunnelService;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.DatagramPacket;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.handler.codec.quic.QuicSslContext;
import io.netty.handler.codec.quic.QuicSslContextBuilder;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node's tunnels through a MASQUE proxy: {@code tunnel:udp LOCAL_PORT HOST:PORT} listens on
 * local UDP and forwards each datagram through CONNECT-UDP; answers go back to whoever sent last
 * (one local client per tunnel, as a port forward is used). The proxy is the home relay unless
 * masque.proxy names another.
 */
@Component(service = {TunnelService.class, UdpTunnels.class}, configurationPid = "cloudbridge.masque")
public final class UdpTunnels implements TunnelService {
    private static final Logger LOG = LoggerFactory.getLogger(UdpTunnels.class);
    private static final int ANSWER_SECONDS = 10;

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY)
    private volatile HomeRelay home;

    private final MasqueConfig config;
    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, r -> {
        Thread t = new Thread(r, "masque-client");
        t.setDaemon(true);
        return t;
    }, NioIoHandler.newFactory());
    private final Map<String, Local> tunnels = new ConcurrentHashMap<>();
    private final AtomicInteger ids = new AtomicInteger();
    private ProxyConnection connection;
    /** Whom {@link #connection} reaches and how it trusted them: a request for another proxy never rides it. */
    private String connectionTo;
    /** The last reason a token was withheld, logged once rather than at every tunnel. */
    private volatile String withheldLogged;
    /** Opens owned tunnels: reaching the proxy blocks, and neither the caller's thread nor the event loop may. */
    private final java.util.concurrent.ExecutorService opener = java.util.concurrent.Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "masque-open");
        t.setDaemon(true);
        return t;
    });

    /** masque.udpTemplate: on a node, the template of the proxy it uses (ours by default), unless masque.proxy is a whole template. */
    private final UriTemplate udpTemplate;

    @Activate
    public UdpTunnels(MasqueConfig config) {
        this.config = config;
        this.udpTemplate = new UriTemplate(config.udpTemplate());
    }

    @Deactivate
    void deactivate() {
        tunnels.values().forEach(Local::close);
        synchronized (this) {
            if (connection != null) {
                connection.close();
            }
        }
        opener.shutdownNow();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }

    /**
     * Where the proxy is, how it is trusted (the pinned fingerprint, or null for the system's
     * trust anchors), what token it gets (null for none, and then {@code withheld} says why), and
     * its CONNECT-UDP template.
     */
    record Proxy(InetSocketAddress address, String authority, QuicSslContext tls, String pin, String bearer, UriTemplate template,
            String withheld) {
    }

    /**
     * masque.proxy as the operator wrote it: {@code https://host[:port]}, or a whole URI template
     * as RFC 9298 clients are configured with ({@code https://host[:port]/path/{target_host}/{target_port}/});
     * {@code template} is null for the first form (masque.udpTemplate applies).
     */
    record ProxyUri(String host, int port, String template) {
        static ProxyUri parse(String uri) {
            if (!uri.regionMatches(true, 0, "https://", 0, 8)) {
                throw new IllegalArgumentException("masque.proxy must start with https:// : " + uri);
            }
            String rest = uri.substring(8);
            int slash = rest.indexOf('/');
            String authority = slash < 0 ? rest : rest.substring(0, slash);
            String path = slash < 0 ? "" : rest.substring(slash);
            String host;
            String port = "";
            if (authority.startsWith("[")) {
                int close = authority.indexOf(']');
                if (close < 0) {
                    throw new IllegalArgumentException("masque.proxy has an unclosed IPv6 literal: " + uri);
                }
                host = authority.substring(1, close);
                port = authority.length() > close + 1 && authority.charAt(close + 1) == ':' ? authority.substring(close + 2) : "";
            } else {
                int colon = authority.lastIndexOf(':');
                host = colon < 0 ? authority : authority.substring(0, colon);
                port = colon < 0 ? "" : authority.substring(colon + 1);
            }
            if (host.isEmpty() || authority.contains("@")) {
                throw new IllegalArgumentException("masque.proxy needs a host (and no user info): " + uri);
            }
            int p;
            try {
                p = port.isEmpty() ? 443 : Integer.parseInt(port);
            } catch (NumberFormatException e) {
                p = -1;
            }
            if (p < 1 || p > 65_535) {
                throw new IllegalArgumentException("masque.proxy has a bad port: " + uri);
            }
            String template = path.isEmpty() || path.equals("/") ? null : path;
            if (template != null) {
                UriTemplate t = new UriTemplate(template);
                if (!t.hasVariable("target_host") || !t.hasVariable("target_port")) {
                    throw new IllegalArgumentException("masque.proxy's template needs {target_host} and {target_port}: " + uri);
                }
            }
            return new ProxyUri(host, p, template);
        }
    }

    Proxy proxy() throws IOException {
        return proxy(config, udpTemplate, home);
    }

    /**
     * The proxy to use and what it gets as its bearer token, for tunnel:udp and the MASQUE path
     * alike. The node's relay token goes to its home relay's proxy only: that is the relay's QUIC
     * listener, so masque.proxy must name the home relay's QUIC endpoint (same host, same port).
     * Any other proxy could replay the token to the relay and take the node over (register it
     * again, take its data-plane port, read its tenant's map), so it gets masque.proxyTokenFile or
     * nothing; when the home relay is not known yet, nothing tells that the proxy is the relay's,
     * so nothing is sent either. {@code withheld} says why no token went, for the operator.
     */
    static Proxy proxy(MasqueConfig config, UriTemplate udpTemplate, HomeRelay relay) throws IOException {
        RelayEndpoint homeQuic = relay == null ? null
                : relay.endpoints().stream().filter(e -> "quic".equals(e.uri().getScheme())).findFirst().orElse(null);
        String host;
        int port;
        UriTemplate template;
        if (!config.proxy().isBlank()) {
            ProxyUri u;
            try {
                u = ProxyUri.parse(config.proxy().trim());
            } catch (IllegalArgumentException e) {
                throw new IOException(e.getMessage());
            }
            host = u.host();
            port = u.port();
            template = u.template() == null ? udpTemplate : new UriTemplate(u.template());
        } else if (homeQuic == null) {
            throw new IOException(relay == null ? "no proxy: the node is not registered with a relay yet, and masque.proxy is empty"
                    : "the home relay has no QUIC endpoint, which its MASQUE proxy is on");
        } else {
            host = unbracket(homeQuic.uri().getHost());
            port = quicPort(homeQuic);
            template = udpTemplate;
        }
        String authority = authority(host, port);
        boolean homeRelay = homeQuic != null && sameHost(unbracket(homeQuic.uri().getHost()), host) && quicPort(homeQuic) == port;

        QuicSslContextBuilder tls = QuicSslContextBuilder.forClient().applicationProtocols("h3");
        String pin = null;
        if (homeRelay && homeQuic.certificateSha256().isPresent()) {
            // The home relay's own proxy: trusted as the node trusts that relay.
            tls.trustManager(homeQuic.pinnedTrust());
            pin = homeQuic.certificateSha256().get();
        } // else any standards-compliant proxy: its certificate is checked against the system's trust anchors

        String bearer = null;
        String withheld = null;
        if (!config.proxy().isBlank() && !config.proxyTokenFile().isBlank()) {
            bearer = Files.readString(Path.of(config.proxyTokenFile())).trim();
        } else if (homeRelay) {
            bearer = relay.credentials().token().get();
        } else if (relay == null) {
            withheld = "no token was sent to the MASQUE proxy at " + authority + ": the node is not registered with a relay yet, so "
                    + "nothing tells that this proxy is its relay's (masque.proxyTokenFile holds a token for another proxy)";
        } else {
            withheld = "no token was sent to the MASQUE proxy at " + authority + ": the node's relay token goes to its relay only, "
                    + "and this is not its relay's proxy (" + (homeQuic == null ? "the relay has no QUIC endpoint"
                    : authority(unbracket(homeQuic.uri().getHost()), quicPort(homeQuic))) + "); masque.proxyTokenFile holds "
                    + "the token for another proxy";
        }
        return new Proxy(new InetSocketAddress(host, port), authority, tls.build(), pin, bearer, template, withheld);
    }

    private static int quicPort(RelayEndpoint quic) {
        return quic.uri().getPort() > 0 ? quic.uri().getPort() : 443;
    }

    private static String unbracket(String host) {
        return host != null && host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
    }

    /**
     * Whether two hosts as written are one: names compared without case, IP literals as
     * addresses (2001:db8:0::1 is 2001:db8::1). No name is resolved: a name that resolves to the
     * relay's address is not the relay's proxy for that, and in doubt the token stays home.
     */
    static boolean sameHost(String a, String b) {
        if (a == null || b == null) {
            return false;
        }
        try {
            byte[] ia = literal(a);
            byte[] ib = literal(b);
            if (ia != null || ib != null) {
                return ia != null && ib != null && java.util.Arrays.equals(ia, ib);
            }
        } catch (java.net.UnknownHostException malformed) {
            return false; // a malformed literal is no relay's
        }
        return a.equalsIgnoreCase(b);
    }

    /** The address an IP literal spells, or null for a name; never asks DNS. */
    private static byte[] literal(String host) throws java.net.UnknownHostException {
        if (host.indexOf(':') >= 0) {
            // Brackets make InetAddress take it as an IPv6 literal or fail, with no lookup.
            return InetAddress.getByName("[" + host + "]").getAddress();
        }
        String[] parts = host.split("\\.", -1);
        if (parts.length != 4) {
            return null;
        }
        byte[] v4 = new byte[4];
        for (int i = 0; i < 4; i++) {
            if (!parts[i].matches("\\d{1,3}") || Integer.parseInt(parts[i]) > 255) {
                return null; // a name (or digits InetAddress would send to DNS): compared as written
            }
            v4[i] = (byte) Integer.parseInt(parts[i]);
        }
        return v4;
    }

    private static String authority(String host, int port) {
        return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
    }

    /** Logs why no token goes to the proxy, once per reason: the MASQUE path opens tunnels by the dozen. */
    private void noteWithheld(Proxy proxy) {
        String why = proxy.withheld();
        if (why != null && !why.equals(withheldLogged)) {
            withheldLogged = why;
            LOG.info("{}", why);
        }
    }

    /** The shared connection to the proxy, made (again) when there is none or the proxy changed. Blocks up to 10 s. */
    private ProxyConnection connection(Proxy proxy) throws IOException {
        String to = proxy.address() + " " + proxy.authority() + " " + proxy.pin();
        synchronized (this) {
            if (connection != null && connection.isOpen() && to.equals(connectionTo)) {
                return connection;
            }
            if (connection != null) {
                // The proxy changed (the home relay moved): the old connection would carry this
                // proxy's requests, and its token, to the old one.
                connection.close();
                connection = null;
            }
            try {
                connection = ProxyConnection.connect(group, proxy.address(), proxy.tls()).get(ANSWER_SECONDS, TimeUnit.SECONDS);
                connectionTo = to;
                return connection;
            } catch (ExecutionException e) {
                throw new IOException("cannot reach the MASQUE proxy at " + proxy.authority() + ": " + e.getCause().getMessage(), e.getCause());
            } catch (TimeoutException e) {
                throw new IOException("the MASQUE proxy at " + proxy.authority() + " did not answer within " + ANSWER_SECONDS + " s");
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted");
            }
        }
    }

    @Override
    public TunnelInfo openUdp(int localPort, String host, int port) throws IOException {
        if (port < 1 || port > 65_535) {
            throw new IOException("target port " + port + " is not 1 to 65535");
        }
        Proxy proxy = proxy();
        noteWithheld(proxy);
        ProxyConnection c = connection(proxy);
        String id = "u" + ids.incrementAndGet();
        Local local = new Local(id, host + ":" + port);
        Channel socket;
        try {
            socket = new Bootstrap().group(group).channel(NioDatagramChannel.class).handler(local.fromLocal())
                    .bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), localPort)).sync().channel();
        } catch (Exception e) {
            throw new IOException("cannot listen on UDP 127.0.0.1:" + localPort + ": " + e.getMessage(), e);
        }
        local.socket = socket;
        String path = proxy.template().expand(Map.of("target_host", host, "target_port", Integer.toString(port)));
        try {
            local.tunnel = await(c.connectUdp(proxy.authority(), path, proxy.bearer(), local::toLocal, local::ended), proxy, host, port);
        } catch (IOException e) {
            socket.close();
            throw e;
        }
        tunnels.put(id, local);
        LOG.info("tunnel {}: UDP 127.0.0.1:{} -> {}:{} through the MASQUE proxy at {}", id,
                ((InetSocketAddress) socket.localAddress()).getPort(), host, port, proxy.authority());
        return local.info();
    }

    /**
     * Opens a tunnel to {@code host:port} whose payloads the caller sends and takes itself (the
     * MASQUE path for WireGuard); listed by tunnel:list like the others. Off the caller's thread:
     * reaching the proxy may take up to 10 s.
     */
    java.util.concurrent.CompletableFuture<OwnedTunnel> openOwned(String host, int port, Consumer<ByteBuf> onPayload,
            Consumer<String> onEnd) {
        return java.util.concurrent.CompletableFuture.supplyAsync(() -> {
            try {
                Proxy proxy = proxy();
                noteWithheld(proxy);
                ProxyConnection c = connection(proxy);
                String id = "u" + ids.incrementAndGet();
                Local local = new Local(id, host + ":" + port);
                String path = proxy.template().expand(Map.of("target_host", host, "target_port", Integer.toString(port)));
                local.tunnel = await(c.connectUdp(proxy.authority(), path, proxy.bearer(), payload -> {
                    local.received.add(payload.readableBytes());
                    onPayload.accept(payload);
                }, why -> {
                    local.ended(why);
                    onEnd.accept(why);
                }), proxy, host, port);
                tunnels.put(id, local);
                LOG.info("tunnel {}: WireGuard's UDP to {}:{} through the MASQUE proxy at {}", id, host, port, proxy.authority());
                return new OwnedTunnel(local, proxy.authority());
            } catch (IOException e) {
                throw new java.util.concurrent.CompletionException(e);
            }
        }, opener);
    }

    /**
     * The tunnel once the proxy accepted it, waiting up to 10 s. One that the proxy accepts only
     * after the wait gave up is closed then: nobody tracks it, and it would hold one of the
     * client's tunnel slots at the proxy until its idle timeout.
     */
    private static ProxyConnection.ClientTunnel await(io.netty.util.concurrent.Future<ProxyConnection.ClientTunnel> opening, Proxy proxy,
            String host, int port) throws IOException {
        try {
            return opening.get(ANSWER_SECONDS, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            // A proxy that wanted a token says 401; the operator then reads why none was sent.
            throw new IOException("the tunnel to " + host + ":" + port + " did not open: " + e.getCause().getMessage()
                    + (proxy.withheld() == null ? "" : " (" + proxy.withheld() + ")"), e.getCause());
        } catch (TimeoutException | InterruptedException e) {
            opening.addListener(f -> {
                if (f.isSuccess()) {
                    ((ProxyConnection.ClientTunnel) f.getNow()).close();
                }
            });
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            throw new IOException("the tunnel to " + host + ":" + port + " did not open within " + ANSWER_SECONDS + " s");
        }
    }

    /** The proxy's authority as configured now, for what the node shows; "?" when there is none yet. */
    String proxyName() {
        try {
            if (!config.proxy().isBlank()) {
                ProxyUri u = ProxyUri.parse(config.proxy().trim());
                return authority(u.host(), u.port());
            }
            HomeRelay relay = home;
            RelayEndpoint quic = relay == null ? null
                    : relay.endpoints().stream().filter(e -> "quic".equals(e.uri().getScheme())).findFirst().orElse(null);
            return quic == null ? "?" : authority(quic.uri().getHost(), quic.uri().getPort() > 0 ? quic.uri().getPort() : 443);
        } catch (RuntimeException e) {
            return "?";
        }
    }

    /** A tunnel without a local listener: its owner sends through it. */
    final class OwnedTunnel {
        private final Local local;
        final String proxy;

        OwnedTunnel(Local local, String proxy) {
            this.local = local;
            this.proxy = proxy;
        }

        boolean send(ByteBuf payload) {
            ProxyConnection.ClientTunnel t = local.tunnel;
            int size = payload.readableBytes();
            if (t == null || !t.send(payload)) {
                return false;
            }
            local.sent.add(size);
            return true;
        }

        void close() {
            UdpTunnels.this.close(local.id);
        }
    }

    @Override
    public List<TunnelInfo> tunnels() {
        List<TunnelInfo> out = new ArrayList<>();
        tunnels.values().forEach(t -> out.add(t.info()));
        out.sort(java.util.Comparator.comparing(TunnelInfo::id));
        return out;
    }

    @Override
    public boolean close(String id) {
        Local t = tunnels.remove(id);
        if (t == null) {
            return false;
        }
        t.close();
        return true;
    }

    /** One local listener and its tunnel. */
    private final class Local {
        final String id;
        final String target;
        volatile Channel socket;
        volatile ProxyConnection.ClientTunnel tunnel;
        volatile InetSocketAddress lastSender;
        volatile String state = "open";
        final LongAdder sent = new LongAdder();
        final LongAdder received = new LongAdder();

        Local(String id, String target) {
            this.id = id;
            this.target = target;
        }

        SimpleChannelInboundHandler<DatagramPacket> fromLocal() {
            return new SimpleChannelInboundHandler<>() {
                @Override
                protected void channelRead0(ChannelHandlerContext ctx, DatagramPacket packet) {
                    ProxyConnection.ClientTunnel t = tunnel;
                    if (t == null) {
                        return;
                    }
                    lastSender = packet.sender();
                    int size = packet.content().readableBytes();
                    if (t.send(packet.content().retain())) {
                        sent.add(size);
                    }
                }
            };
        }

        void toLocal(ByteBuf payload) {
            Channel s = socket;
            InetSocketAddress to = lastSender;
            if (s == null || to == null) {
                return; // nobody asked yet: an answer to no one
            }
            received.add(payload.readableBytes());
            s.writeAndFlush(new DatagramPacket(payload.retainedDuplicate(), to), s.voidPromise());
        }

        void ended(String why) {
            if ("closed".equals(state)) {
                return;
            }
            state = "closed";
            LOG.info("tunnel {} to {} ended: {}", id, target, why);
            Channel s = socket;
            if (s != null) {
                s.close();
            }
            tunnels.remove(id, this);
        }

        void close() {
            ProxyConnection.ClientTunnel t = tunnel;
            if (t != null) {
                t.close();
            }
            ended("closed here");
        }

        TunnelInfo info() {
            Channel s = socket;
            return new TunnelInfo(id, "connect-udp", s == null ? null : (InetSocketAddress) s.localAddress(), target, state,
                    sent.sum(), received.sum());
        }
    }
}
