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

    /** Where the proxy is, how it is trusted, what token it gets, and its CONNECT-UDP template. */
    record Proxy(InetSocketAddress address, String authority, QuicSslContext tls, String bearer, UriTemplate template) {
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
        HomeRelay relay = home;
        RelayEndpoint homeQuic = relay == null ? null
                : relay.endpoints().stream().filter(e -> "quic".equals(e.uri().getScheme())).findFirst().orElse(null);
        if (!config.proxy().isBlank()) {
            ProxyUri u;
            try {
                u = ProxyUri.parse(config.proxy().trim());
            } catch (IllegalArgumentException e) {
                throw new IOException(e.getMessage());
            }
            String bearer = null;
            if (!config.proxyTokenFile().isBlank()) {
                bearer = Files.readString(Path.of(config.proxyTokenFile())).trim();
            } else if (relay != null) {
                bearer = relay.credentials().token().get();
            }
            UriTemplate template = u.template() == null ? udpTemplate : new UriTemplate(u.template());
            String authority = authority(u.host(), u.port());
            QuicSslContextBuilder tls = QuicSslContextBuilder.forClient().applicationProtocols("h3");
            if (homeQuic != null && isHomeRelay(homeQuic, u) && homeQuic.certificateSha256().isPresent()) {
                // The home relay's own proxy, named by its address: trusted as the node trusts that relay.
                tls.trustManager(homeQuic.pinnedTrust());
            } // else any standards-compliant proxy: its certificate is checked against the system's trust anchors
            return new Proxy(new InetSocketAddress(u.host(), u.port()), authority, tls.build(), bearer, template);
        }
        if (homeQuic == null) {
            throw new IOException(relay == null ? "no proxy: the node is not registered with a relay yet, and masque.proxy is empty"
                    : "the home relay has no QUIC endpoint, which its MASQUE proxy is on");
        }
        QuicSslContextBuilder tls = QuicSslContextBuilder.forClient().applicationProtocols("h3");
        if (homeQuic.certificateSha256().isPresent()) {
            tls.trustManager(homeQuic.pinnedTrust());
        }
        int port = homeQuic.uri().getPort() > 0 ? homeQuic.uri().getPort() : 443;
        return new Proxy(new InetSocketAddress(homeQuic.uri().getHost(), port), authority(homeQuic.uri().getHost(), port), tls.build(),
                relay.credentials().token().get(), udpTemplate);
    }

    private static boolean isHomeRelay(RelayEndpoint quic, ProxyUri u) {
        int port = quic.uri().getPort() > 0 ? quic.uri().getPort() : 443;
        String host = quic.uri().getHost();
        host = host != null && host.startsWith("[") ? host.substring(1, host.length() - 1) : host;
        return port == u.port() && u.host().equalsIgnoreCase(host);
    }

    private static String authority(String host, int port) {
        return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
    }

    /** The shared connection to the proxy, made (again) when there is none. Blocks up to 10 s. */
    private ProxyConnection connection(Proxy proxy) throws IOException {
        synchronized (this) {
            if (connection != null && connection.isOpen()) {
                return connection;
            }
            try {
                connection = ProxyConnection.connect(group, proxy.address(), proxy.tls()).get(ANSWER_SECONDS, TimeUnit.SECONDS);
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
            local.tunnel = await(c.connectUdp(proxy.authority(), path, proxy.bearer(), local::toLocal, local::ended), host, port);
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
                }), host, port);
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
    private static ProxyConnection.ClientTunnel await(io.netty.util.concurrent.Future<ProxyConnection.ClientTunnel> opening, String host,
            int port) throws IOException {
        try {
            return opening.get(ANSWER_SECONDS, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            throw new IOException("the tunnel to " + host + ":" + port + " did not open: " + e.getCause().getMessage(), e.getCause());
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
