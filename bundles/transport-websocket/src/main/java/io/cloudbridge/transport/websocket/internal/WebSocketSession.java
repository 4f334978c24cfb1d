package io.cloudbridge.transport.websocket.internal;

import io.cloudbridge.boot.log.Correlation;
import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.api.transport.PacketReceiver;
import io.cloudbridge.transport.support.Outbox;
import io.cloudbridge.transport.support.RelaySession;
import io.cloudbridge.api.transport.RelayEndpoint;
import io.cloudbridge.api.transport.SessionCredentials;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketClientHandshakeException;
import io.netty.handler.codec.http.websocketx.WebSocketClientProtocolConfig;
import io.netty.handler.codec.http.websocketx.WebSocketClientProtocolHandler;
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import java.net.InetSocketAddress;
import java.net.URI;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A node's session with its relay over WebSocket on TLS. After the first connection it keeps
 * itself connected: a lost connection is dialled again with jittered exponential backoff, with the
 * token the node holds at that moment. It ends for good when closed, when the relay says the node
 * was removed or its token is refused (close code 1008, HTTP 401), or when a newer session of the
 * same node replaced it.
 */
final class WebSocketSession extends RelaySession {
    private static final Logger LOG = LoggerFactory.getLogger(WebSocketSession.class);

    private final EventLoopGroup group;
    private final SessionCredentials credentials;
    private final URI uri;
    private final SslContext tls;
    private volatile Channel channel;
    private volatile long pingSentNanos;
    /**
     * How often the node pings the relay (which also keeps NATs, proxies and the relay's idle timer
     * from forgetting the connection), and how long a relay that sends nothing is given before the
     * connection is taken for dead. TCP alone does not tell: a relay that stopped reading leaves
     * the node's writes queued and its packets dropped until retransmissions give up.
     */
    private final long pingMillis;
    private final long deadAfterNanos;
    /** The HTTP proxy to go through (HTTPS_PROXY, unless NO_PROXY names the relay), if any. */
    private final java.util.Optional<ProxySettings> proxy;

    WebSocketSession(EventLoopGroup group, RelayEndpoint relay, SessionCredentials credentials, PacketReceiver receiver,
            long minBackoffMillis, long maxBackoffMillis, long pingMillis, long deadAfterMillis,
            java.util.Map<String, String> environment) throws SSLException {
        super(relay, receiver, group, minBackoffMillis, maxBackoffMillis);
        this.pingMillis = pingMillis;
        this.deadAfterNanos = java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(deadAfterMillis);
        this.group = group;
        this.credentials = credentials;
        URI u = relay.uri();
        String path = u.getPath() == null || u.getPath().isEmpty() || u.getPath().equals("/") ? Frames.PATH : u.getPath();
        this.uri = URI.create("wss://" + u.getHost() + ":" + port(u) + path);
        this.proxy = ProxySettings.forHost(u.getHost(), environment);
        proxy.ifPresent(p -> LOG.info("relay {} over WebSocket through the {}", relay.name(), p));
        SslContextBuilder builder = SslContextBuilder.forClient().sslProvider(SslProvider.JDK).protocols("TLSv1.3");
        if (relay.certificateSha256().isPresent()) {
            builder.trustManager(relay.pinnedTrust());
        }
        this.tls = builder.build();
    }

    static int port(URI u) {
        return u.getPort() > 0 ? u.getPort() : 443;
    }

    @Override
    protected void dial() {
        if (!wanted()) {
            return;
        }
        DefaultHttpHeaders headers = new DefaultHttpHeaders();
        headers.set(HttpHeaderNames.AUTHORIZATION, "Bearer " + credentials.token().get());
        String flow = flow();
        if (Correlation.valid(flow)) {
            headers.set(Correlation.HEADER, flow); // this dial's id: the relay logs its side under it
        }
        WebSocketClientProtocolConfig config = WebSocketClientProtocolConfig.newBuilder().webSocketUri(uri)
                .subprotocol(Frames.SUBPROTOCOL).customHeaders(headers).maxFramePayloadLength(Frames.MAX_FRAME)
                .handshakeTimeoutMillis(10_000).handleCloseFrames(false).dropPongFrames(false).build();
        new Bootstrap().group(group).channel(NioSocketChannel.class)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 10_000)
                .option(ChannelOption.TCP_NODELAY, true)
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        // Through a proxy: an HTTP CONNECT tunnel first, then TLS to the relay inside it.
                        // The proxy's own name is resolved here, at each dial; the relay's by the proxy.
                        proxy.ifPresent(p -> {
                            InetSocketAddress at = new InetSocketAddress(p.proxy().getHostString(), p.proxy().getPort());
                            ch.pipeline().addLast("proxy", p.username() == null ? new io.netty.handler.proxy.HttpProxyHandler(at)
                                    : new io.netty.handler.proxy.HttpProxyHandler(at, p.username(), p.password()));
                        });
                        ch.pipeline().addLast("tls", tls.newHandler(ch.alloc(), uri.getHost(), port(uri)))
                                .addLast("http", new HttpClientCodec())
                                .addLast("aggregator", new HttpObjectAggregator(16 * 1024))
                                .addLast("websocket", new WebSocketClientProtocolHandler(config))
                                .addLast("session", new Handler());
                    }
                })
                // Unresolved through a proxy: the proxy resolves the relay's name, as corporate proxies must.
                .connect(proxy.isPresent() ? InetSocketAddress.createUnresolved(uri.getHost(), port(uri))
                        : new InetSocketAddress(uri.getHost(), port(uri))).addListener(f -> {
                    if (!f.isSuccess()) {
                        lost("cannot connect: " + f.cause(), false);
                    }
                });
    }

    private final class Handler extends SimpleChannelInboundHandler<WebSocketFrame> {
        private final byte[] keyBytes = new byte[Frames.KEY_LENGTH];
        private String closeReason;
        private boolean closeTerminal;
        /** What a 503 or 429 asked: come back after this, not later. */
        private java.time.Duration retryAfter;
        /** When the relay last sent anything on this connection; the channel loop's. */
        private long lastHeardNanos;
        private io.netty.util.concurrent.ScheduledFuture<?> pings;

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object event) throws Exception {
            if (event == WebSocketClientProtocolHandler.ClientHandshakeStateEvent.HANDSHAKE_COMPLETE) {
                channel = ctx.channel();
                lastHeardNanos = System.nanoTime();
                pings = ctx.executor().scheduleAtFixedRate(() -> pingOrGiveUp(ctx), pingMillis, pingMillis,
                        java.util.concurrent.TimeUnit.MILLISECONDS);
                connected(new Outbox(ctx.channel(), BinaryWebSocketFrame::new, Frames.MAX_FRAME - Frames.KEY_LENGTH),
                        String.valueOf(ctx.channel().remoteAddress()));
            } else {
                super.userEventTriggered(ctx, event);
            }
        }

        private void pingOrGiveUp(ChannelHandlerContext ctx) {
            long silent = System.nanoTime() - lastHeardNanos;
            if (silent > deadAfterNanos) {
                closeReason = "the relay has not answered for " + java.util.concurrent.TimeUnit.NANOSECONDS.toMillis(silent) + " ms";
                ctx.close();
                return;
            }
            pingSentNanos = System.nanoTime();
            ctx.writeAndFlush(new PingWebSocketFrame());
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            burstEnded(); // the frames of this read, decrypted, go to the TUN device together
            ctx.fireChannelReadComplete();
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, WebSocketFrame frame) {
            lastHeardNanos = System.nanoTime();
            if (frame instanceof BinaryWebSocketFrame && frame.isFinalFragment()) {
                ByteBuf content = frame.content();
                if (content.readableBytes() <= Frames.KEY_LENGTH) {
                    return;
                }
                content.readBytes(keyBytes);
                receivedInBurst(NodeKey.of(keyBytes), content.nioBuffer(content.readerIndex(), content.readableBytes()));
            } else if (frame instanceof io.netty.handler.codec.http.websocketx.PongWebSocketFrame) {
                if (pingSentNanos != 0) {
                    measuredRtt(System.nanoTime() - pingSentNanos);
                }
            } else if (frame instanceof CloseWebSocketFrame close) {
                int code = close.statusCode();
                closeReason = "relay closed the session: " + close.reasonText() + " (" + code + ")";
                // 1008: the relay refused the node (removed, replaced by a newer session): dialling again would not help.
                closeTerminal = code == WebSocketCloseStatus.POLICY_VIOLATION.code();
                ctx.close();
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (cause instanceof WebSocketClientHandshakeException h) {
                int status = h.response() == null ? 0 : h.response().status().code();
                closeReason = "relay refused the session: HTTP " + status;
                closeTerminal = status == 401 || status == 403 || status == 404;
                String asked = h.response() == null ? null : h.response().headers().get(io.netty.handler.codec.http.HttpHeaderNames.RETRY_AFTER);
                if ((status == 503 || status == 429) && asked != null) {
                    // The relay said when to come back. Without it a 503 may be anything's (a proxy in
                    // front of the relay with no backend): an ordinary loss, with backoff.
                    retryAfter = retryAfter(asked);
                }
            } else if (closeReason == null) {
                closeReason = cause.getClass().getSimpleName() + ": " + cause.getMessage();
            }
            ctx.close();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            burstEnded(); // a read the close cut short: what it delivered is let go
            channel = null;
            if (pings != null) {
                pings.cancel(false);
            }
            String reason = closeReason == null ? "connection closed" : closeReason;
            if (retryAfter != null) {
                refusedForNow(reason, retryAfter);
            } else {
                lost(reason, closeTerminal);
            }
        }
    }

    /**
     * Retry-After in seconds (RFC 9110; the date form is not sent by relays), within 1..60 s: a relay
     * that says nothing, or nonsense, is tried again after a second.
     */
    static java.time.Duration retryAfter(String header) {
        // Absent, a date, or not a number: a second.
        return java.time.Duration.ofSeconds(io.cloudbridge.transport.support.RetryAfter.seconds(header).orElse(1));
    }

    @Override
    public String transportName() {
        return WebSocketTransport.NAME;
    }

    @Override
    public int maxPacketSize() {
        return Frames.MAX_FRAME - Frames.KEY_LENGTH;
    }

    @Override
    protected void disconnect() {
        Channel c = channel;
        if (c != null) {
            c.writeAndFlush(new CloseWebSocketFrame(WebSocketCloseStatus.NORMAL_CLOSURE, "node leaving"))
                    .addListener(io.netty.channel.ChannelFutureListener.CLOSE);
        }
    }
}
