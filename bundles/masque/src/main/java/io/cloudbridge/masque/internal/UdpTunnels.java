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

    /** masque.udpTemplate: on a node, the template of the proxy it uses (ours by default). */
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
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }

    /** Where the proxy is, how it is trusted, and what token it gets. */
    record Proxy(InetSocketAddress address, String authority, QuicSslContext tls, String bearer) {
    }

    Proxy proxy() throws IOException {
        if (!config.proxy().isBlank()) {
            URI u = URI.create(config.proxy());
            if (!"https".equals(u.getScheme()) || u.getHost() == null) {
                throw new IOException("masque.proxy must be https://host[:port]: " + config.proxy());
            }
            int port = u.getPort() > 0 ? u.getPort() : 443;
            String bearer = null;
            if (!config.proxyTokenFile().isBlank()) {
                bearer = Files.readString(Path.of(config.proxyTokenFile())).trim();
            } else if (home != null) {
                bearer = home.credentials().token().get();
            }
            // Any standards-compliant proxy: its certificate is checked against the system's trust anchors.
            QuicSslContext tls = QuicSslContextBuilder.forClient().applicationProtocols("h3").build();
            return new Proxy(new InetSocketAddress(u.getHost(), port), u.getHost() + ":" + port, tls, bearer);
        }
        HomeRelay relay = home;
        if (relay == null) {
            throw new IOException("no proxy: the node is not registered with a relay yet, and masque.proxy is empty");
        }
        RelayEndpoint quic = relay.endpoints().stream().filter(e -> "quic".equals(e.uri().getScheme())).findFirst()
                .orElseThrow(() -> new IOException("the home relay has no QUIC endpoint, which its MASQUE proxy is on"));
        QuicSslContextBuilder tls = QuicSslContextBuilder.forClient().applicationProtocols("h3");
        if (quic.certificateSha256().isPresent()) {
            tls.trustManager(quic.pinnedTrust());
        }
        int port = quic.uri().getPort() > 0 ? quic.uri().getPort() : 443;
        return new Proxy(new InetSocketAddress(quic.uri().getHost(), port), quic.uri().getHost() + ":" + port, tls.build(),
                relay.credentials().token().get());
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
        String path = udpTemplate.expand(Map.of("target_host", host, "target_port", Integer.toString(port)));
        try {
            local.tunnel = c.connectUdp(proxy.authority(), path, proxy.bearer(), local::toLocal, local::ended)
                    .get(ANSWER_SECONDS, TimeUnit.SECONDS);
        } catch (ExecutionException | TimeoutException | InterruptedException e) {
            socket.close();
            Throwable cause = e instanceof ExecutionException ? e.getCause() : e;
            throw new IOException("the tunnel to " + host + ":" + port + " did not open: " + cause.getMessage(), cause);
        }
        tunnels.put(id, local);
        LOG.info("tunnel {}: UDP 127.0.0.1:{} -> {}:{} through the MASQUE proxy at {}", id,
                ((InetSocketAddress) socket.localAddress()).getPort(), host, port, proxy.authority());
        return local.info();
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
