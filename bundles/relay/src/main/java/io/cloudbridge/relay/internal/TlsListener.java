package io.cloudbridge.relay.internal;

import io.cloudbridge.api.relay.RelayIdentity;
import io.cloudbridge.relay.spi.HttpRoute;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.util.concurrent.GlobalEventExecutor;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.timeout.ReadTimeoutHandler;
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
import org.osgi.service.metatype.annotations.Designate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The relay's TLS listener (TCP): TLS 1.3 with the relay's certificate, then the first HTTP
 * request of each connection picks the route that takes the connection over, by path. Routes come
 * and go with their plugins; the port stays. An unknown path is answered 404, a malformed request
 * 400, a request head over 8 KiB 431, a silent connection is closed after firstRequestSeconds.
 *
 * <p>A path whose plugin went away within the last routeRestartSeconds is answered 503 with
 * {@code Retry-After}, not 404: a plugin that is refreshed, updated or restarted is gone for a few
 * seconds, and its nodes should keep dialling rather than take the path for one this relay does
 * not serve (a 404 makes a node set the transport aside and back off for up to half a minute).
 */
@Component(service = TlsListener.class, configurationPid = "cloudbridge.listeners", immediate = true)
@Designate(ocd = ListenerConfig.class)
public final class TlsListener {
    private static final Logger LOG = LoggerFactory.getLogger(TlsListener.class);
    static final int MAX_REQUEST_HEAD = 8 * 1024;
    /** Upgrade requests have no body; a little room for routes that take a small one. */
    static final int MAX_REQUEST_BODY = 16 * 1024;
    /** What a 503 for a restarting path asks: a plugin restart takes a few seconds. */
    static final int RETRY_AFTER_SECONDS = 1;
    /** How long stopping waits for the open connections to close. */
    static final long CLOSE_WAIT_MILLIS = 2_000;

    private final Map<String, HttpRoute> routes = new ConcurrentHashMap<>();
    /** Paths likely coming back: answered 503, not 404. */
    private final RouteRestarts restarts = new RouteRestarts(false);
    private EventLoopGroup boss;
    private EventLoopGroup workers;
    private Channel server;
    /**
     * Every connection the listener accepted and still holds, whichever route took it over: closed
     * by the listener itself before its event loops go. Shutting the loops down does not reliably
     * close them (the chaos test found WebSocket sessions left open and unread across a refresh:
     * their nodes kept writing into a connection nobody served).
     */
    private final ChannelGroup connections = new DefaultChannelGroup("relay-tls-connections", GlobalEventExecutor.INSTANCE);

    @Reference
    private RelayIdentity identity;

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC)
    void addRoute(HttpRoute route) {
        HttpRoute previous = routes.putIfAbsent(route.path(), route);
        if (previous != null && previous != route) {
            LOG.warn("two routes claim {}: keeping {}, ignoring {}", route.path(), previous.getClass().getName(),
                    route.getClass().getName());
        } else {
            restarts.served(route.path());
            LOG.info("relay route {} served by {}", route.path(), route.getClass().getName());
        }
    }

    void removeRoute(HttpRoute route) {
        if (routes.remove(route.path(), route)) {
            restarts.removed(route.path());
            LOG.info("relay route {} removed", route.path());
        }
    }

    @Activate
    void activate(ListenerConfig config) throws Exception {
        start(identity, config);
    }

    /** Starts with the given identity; for tests that run without DS. */
    void start(RelayIdentity id, ListenerConfig config) throws Exception {
        SslContext tls = SslContextBuilder.forServer(id.privateKey(), id.certificate()).sslProvider(SslProvider.JDK)
                .protocols("TLSv1.3").build();
        boss = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        workers = new MultiThreadIoEventLoopGroup(0, NioIoHandler.newFactory());
        int firstRequestSeconds = Math.max(1, config.firstRequestSeconds());
        restarts.started(config.routeRestartSeconds());
        server = new ServerBootstrap().group(boss, workers).channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        connections.add(ch);
                        ch.pipeline().addLast("tls", tls.newHandler(ch.alloc()))
                                .addLast("first-request-timeout", new ReadTimeoutHandler(firstRequestSeconds, TimeUnit.SECONDS))
                                .addLast("http", new HttpServerCodec(4096, MAX_REQUEST_HEAD, 8192))
                                .addLast("aggregator", new HttpObjectAggregator(MAX_REQUEST_BODY))
                                .addLast("dispatch", new Dispatch());
                    }
                })
                .bind(new InetSocketAddress(config.address(), config.tlsPort())).sync().channel();
        LOG.info("relay TLS listener on {} (TLS 1.3, certificate fingerprint {})", server.localAddress(), id.fingerprint());
    }

    int port() {
        return ((InetSocketAddress) server.localAddress()).getPort();
    }

    @Deactivate
    void deactivate() {
        if (server != null) {
            server.close().syncUninterruptibly();
        }
        // The routes' own goodbyes (a WebSocket close frame) went out as their plugins left; what is
        // still open is closed here, while the loops still run, so each node sees its connection end
        // and dials again at once.
        if (!connections.close().awaitUninterruptibly(CLOSE_WAIT_MILLIS)) {
            LOG.warn("relay TLS listener: {} connection(s) not closed within {} ms of stopping", connections.size(), CLOSE_WAIT_MILLIS);
        }
        if (boss != null) {
            boss.shutdownGracefully(0, 2, TimeUnit.SECONDS);
            workers.shutdownGracefully(0, 2, TimeUnit.SECONDS);
        }
    }

    /** Reads the first request and hands the connection to its route. */
    private final class Dispatch extends SimpleChannelInboundHandler<FullHttpRequest> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
            DecoderResult result = request.decoderResult();
            if (result.isFailure()) {
                String why = String.valueOf(result.cause());
                boolean tooLarge = why.contains("TooLongHttpHeaderException") || why.contains("TooLongHttpLineException")
                        || why.contains("larger than");
                refuse(ctx, tooLarge ? HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE : HttpResponseStatus.BAD_REQUEST,
                        tooLarge ? "request head too large" : "malformed request");
                return;
            }
            String path = new QueryStringDecoder(request.uri()).path();
            HttpRoute route = routes.get(path);
            if (route == null) {
                if (restarts.restarting(path)) {
                    refuse(ctx, HttpResponseStatus.SERVICE_UNAVAILABLE, "the plugin serving this path is restarting; try again",
                            RETRY_AFTER_SECONDS);
                } else {
                    refuse(ctx, HttpResponseStatus.NOT_FOUND, "no such path on this relay");
                }
                return;
            }
            ctx.pipeline().remove("first-request-timeout");
            ctx.pipeline().remove(this);
            try {
                route.accept(ctx, request);
            } catch (RuntimeException e) {
                LOG.warn("route {} failed on a request: {}", path, e.toString());
                refuse(ctx, HttpResponseStatus.INTERNAL_SERVER_ERROR, "the route failed");
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            // TLS failures, timeouts and resets: the connection ends, the listener goes on.
            LOG.debug("relay connection from {} ended: {}", ctx.channel().remoteAddress(), cause.toString());
            ctx.close();
        }
    }

    /** Answers with a status and a one-line reason, then closes. */
    static void refuse(ChannelHandlerContext ctx, HttpResponseStatus status, String reason) {
        refuse(ctx, status, reason, 0);
    }

    /** As {@link #refuse(ChannelHandlerContext, HttpResponseStatus, String)}, with a Retry-After when above zero. */
    static void refuse(ChannelHandlerContext ctx, HttpResponseStatus status, String reason, int retryAfterSeconds) {
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
                Unpooled.copiedBuffer(reason + "\n", StandardCharsets.UTF_8));
        response.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8")
                .setInt(HttpHeaderNames.CONTENT_LENGTH, response.content().readableBytes())
                .set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        if (retryAfterSeconds > 0) {
            response.headers().setInt(HttpHeaderNames.RETRY_AFTER, retryAfterSeconds);
        }
        ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
    }
}
