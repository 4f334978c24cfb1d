package io.cloudbridge.transport.websocket.internal;

import io.cloudbridge.boot.log.Correlation;
import io.cloudbridge.api.auth.CredentialRejectedException;
import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.api.relay.AuthenticatedNode;
import io.cloudbridge.api.relay.CredentialRevocations;
import io.cloudbridge.api.relay.NodeSessionAuthenticator;
import io.cloudbridge.api.relay.PacketSwitch;
import io.cloudbridge.api.relay.PortSink;
import io.cloudbridge.api.relay.SwitchPort;
import io.cloudbridge.relay.spi.HttpRoute;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PongWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketServerHandshaker;
import io.netty.handler.codec.http.websocketx.WebSocketServerHandshakerFactory;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The relay's side of the WebSocket transport, on the relay's TLS listener at {@link Frames#PATH}.
 * The upgrade request carries the node's token ({@code Authorization: Bearer}); a session that
 * proves nothing gets 401 and no WebSocket. An authenticated session becomes the node's port in
 * the packet switch. Removing this bundle closes its sessions (close code 1001, going away), and
 * the nodes move to another transport.
 */
@Component(service = HttpRoute.class, immediate = true)
public final class WebSocketRoute implements HttpRoute {
    private static final Logger LOG = LoggerFactory.getLogger(WebSocketRoute.class);
    /** What a 503 asks (the control plane cannot check tokens now, too many sign-ins at once). */
    static final int BUSY_RETRY_SECONDS = 2;
    static final Logger SECURITY = LoggerFactory.getLogger("io.cloudbridge.security");
    /** A session that sends nothing (not even the node's keepalive pings) for this long is closed. */
    static final int IDLE_SECONDS = 60;

    private final PacketSwitch packetSwitch;
    private final NodeSessionAuthenticator authenticator;
    private final CredentialRevocations revocations;
    /** Token checks read the database: off the event loop, a few at a time, a bounded queue. */
    private final ExecutorService checks = new ThreadPoolExecutor(2, 2, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(1024), r -> {
        Thread t = new Thread(r, "relay-websocket-auth");
        t.setDaemon(true);
        return t;
    });
    private final java.util.Set<Channel> sessions = java.util.concurrent.ConcurrentHashMap.newKeySet();
    final LongAdder refused = new LongAdder();
    final LongAdder malformedFrames = new LongAdder();

    @Activate
    public WebSocketRoute(@Reference PacketSwitch packetSwitch, @Reference NodeSessionAuthenticator authenticator,
            @Reference CredentialRevocations revocations) {
        this.revocations = revocations;
        this.packetSwitch = packetSwitch;
        this.authenticator = authenticator;
    }

    @Override
    public String path() {
        return Frames.PATH;
    }

    /**
     * Under the session attempt's id from the node ({@code cloudbridge-correlation-id}), or a new
     * {@code ws-} one: every log line of its check, upgrade and attachment here has it.
     */
    @Override
    public void accept(ChannelHandlerContext ctx, FullHttpRequest request) {
        try (Correlation.Scope flow = Correlation.open(Correlation.accept(request.headers().get(Correlation.HEADER), "ws"))) {
            acceptUnderItsId(ctx, request);
        }
    }

    private void acceptUnderItsId(ChannelHandlerContext ctx, FullHttpRequest request) {
        Channel channel = ctx.channel();
        String authorization = request.headers().get(HttpHeaderNames.AUTHORIZATION);
        if (authorization == null || !authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
            refuse(ctx, HttpResponseStatus.UNAUTHORIZED, "no node token (Authorization: Bearer)", channel);
            return;
        }
        if (!request.headers().containsValue(HttpHeaderNames.UPGRADE, HttpHeaderValues.WEBSOCKET, true)) {
            refuse(ctx, HttpResponseStatus.BAD_REQUEST, "not a WebSocket upgrade", channel);
            return;
        }
        String token = authorization.substring(7).trim();
        FullHttpRequest kept = request.retainedDuplicate();
        channel.config().setAutoRead(false); // nothing more is read until the node is known
        try {
            checks.execute(Correlation.carry(() -> {
                AuthenticatedNode node;
                Revocation revocation = new Revocation(channel);
                try {
                    node = authenticator.authenticate(token);
                    // Bound before the upgrade: a removal that raced the check above is refused here,
                    // or found by the revocation, which reaches the channel's loop before or after the upgrade.
                    revocation.binding = revocations.bind(token, revocation);
                } catch (CredentialRejectedException e) {
                    channel.eventLoop().execute(Correlation.carry(() -> {
                        kept.release();
                        refuse(ctx, HttpResponseStatus.UNAUTHORIZED, e.getMessage(), channel);
                    }));
                    return;
                } catch (RuntimeException e) {
                    LOG.warn("authenticating a WebSocket session failed: {}", e.toString());
                    channel.eventLoop().execute(Correlation.carry(() -> {
                        kept.release();
                        refuse(ctx, HttpResponseStatus.SERVICE_UNAVAILABLE, "the relay cannot check tokens now", channel);
                    }));
                    return;
                }
                channel.eventLoop().execute(Correlation.carry(() -> {
                    try {
                        if (revocation.reason != null) {
                            refuse(ctx, HttpResponseStatus.UNAUTHORIZED, revocation.reason, channel);
                            return;
                        }
                        upgrade(ctx, kept, node, revocation);
                    } finally {
                        kept.release();
                    }
                }));
            }));
        } catch (RejectedExecutionException busy) {
            kept.release();
            refuse(ctx, HttpResponseStatus.SERVICE_UNAVAILABLE, "too many sessions signing in; try again", channel);
        }
    }

    private void upgrade(ChannelHandlerContext ctx, FullHttpRequest request, AuthenticatedNode node, Revocation revocation) {
        Channel channel = ctx.channel();
        channel.closeFuture().addListener(f -> revocation.binding.close());
        if (!channel.isActive()) {
            return;
        }
        String url = "wss://" + request.headers().get(HttpHeaderNames.HOST, "relay") + Frames.PATH;
        WebSocketServerHandshakerFactory factory = new WebSocketServerHandshakerFactory(url, Frames.SUBPROTOCOL,
                Frames.relayDecoder());
        WebSocketServerHandshaker handshaker = factory.newHandshaker(request);
        if (handshaker == null) {
            WebSocketServerHandshakerFactory.sendUnsupportedVersionResponse(channel).addListener(ChannelFutureListener.CLOSE);
            return;
        }
        Session session = new Session(channel, node);
        channel.pipeline().remove("aggregator");
        String flow = Correlation.current();
        handshaker.handshake(channel, request).addListener(done -> {
            try (Correlation.Scope attaching = Correlation.open(flow)) {
                attach(done, channel, session, node, revocation);
            }
        });
    }

    private void attach(io.netty.util.concurrent.Future<? super Void> done, Channel channel, Session session, AuthenticatedNode node,
            Revocation revocation) {
        {
            if (!done.isSuccess()) {
                LOG.debug("WebSocket handshake with node {} failed: {}", node.nodeId(), done.cause().toString());
                channel.close();
                return;
            }
            if (revocation.reason != null) {
                session.closed(revocation.reason); // revoked during the handshake
                return;
            }
            channel.pipeline().addLast("idle", new IdleStateHandler(IDLE_SECONDS, 0, 0)).addLast("session", session);
            session.port = packetSwitch.attach(node, "websocket", session);
            revocation.session = session;
            sessions.add(channel);
            channel.closeFuture().addListener(f -> {
                sessions.remove(channel);
                session.port.close();
                session.outbox.discard();
            });
            channel.config().setAutoRead(true);
        }
    }

    /**
     * A session's tie to its token: until the session is up the revocation is remembered (and the
     * upgrade refused); after, the session is closed with the reason. Its state is the channel loop's.
     */
    private static final class Revocation implements CredentialRevocations.Revocable {
        private final Channel channel;
        volatile CredentialRevocations.Binding binding;
        String reason;
        Session session;

        Revocation(Channel channel) {
            this.channel = channel;
        }

        @Override
        public void revoked(String why) {
            channel.eventLoop().execute(() -> {
                reason = why;
                if (session != null) {
                    SECURITY.info("WebSocket relay session of node {} ended: {}", session.node.nodeId(), why);
                    session.closed(why);
                }
            });
        }
    }

    private void refuse(ChannelHandlerContext ctx, HttpResponseStatus status, String reason, Channel channel) {
        refused.increment();
        SECURITY.warn("WebSocket relay session refused: {} (from {})", reason, channel.remoteAddress());
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
                Unpooled.copiedBuffer(reason + "\n", StandardCharsets.UTF_8));
        response.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8")
                .setInt(HttpHeaderNames.CONTENT_LENGTH, response.content().readableBytes())
                .set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        if (status.equals(HttpResponseStatus.SERVICE_UNAVAILABLE)) {
            // Nothing wrong with the node or its path: it comes back after this, not after its backoff.
            response.headers().setInt(HttpHeaderNames.RETRY_AFTER, BUSY_RETRY_SECONDS);
        }
        ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
    }

    /** Sessions are closed with 1001 (going away): the nodes reconnect over another transport. */
    @Deactivate
    void deactivate() {
        checks.shutdownNow();
        for (Channel c : sessions) {
            // On the channel's loop: the relay's listener, refreshed with this plugin, may have shut it down already.
            io.cloudbridge.transport.support.ChannelLoops.runOn(c, () -> c.writeAndFlush(
                    new CloseWebSocketFrame(WebSocketCloseStatus.ENDPOINT_UNAVAILABLE, "transport removed"))
                    .addListener(ChannelFutureListener.CLOSE));
        }
        sessions.clear();
    }

    /** One node's session: frames in to the switch, the switch's packets out as frames. */
    private final class Session extends SimpleChannelInboundHandler<WebSocketFrame> implements PortSink {
        private final Channel channel;
        private final AuthenticatedNode node;
        final io.cloudbridge.transport.support.Outbox outbox;
        volatile SwitchPort port;
        private final byte[] keyBytes = new byte[Frames.KEY_LENGTH];

        Session(Channel channel, AuthenticatedNode node) {
            this.channel = channel;
            this.node = node;
            this.outbox = new io.cloudbridge.transport.support.Outbox(channel, BinaryWebSocketFrame::new,
                    Frames.MAX_FRAME - Frames.KEY_LENGTH);
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, WebSocketFrame frame) {
            if (frame instanceof BinaryWebSocketFrame && frame.isFinalFragment()) {
                ByteBuf content = frame.content();
                if (content.readableBytes() <= Frames.KEY_LENGTH) {
                    malformedFrames.increment();
                    return; // counted; one bad frame does not end the session
                }
                content.readBytes(keyBytes);
                NodeKey destination = NodeKey.of(keyBytes);
                ByteBuffer packet = content.nioBuffer(content.readerIndex(), content.readableBytes());
                port.forward(destination, packet);
            } else if (frame instanceof PingWebSocketFrame) {
                ctx.writeAndFlush(new PongWebSocketFrame(frame.content().retain()));
            } else if (frame instanceof PongWebSocketFrame) {
                // the answer to a ping of ours: the session is alive
            } else if (frame instanceof CloseWebSocketFrame) {
                ctx.writeAndFlush(new CloseWebSocketFrame(WebSocketCloseStatus.NORMAL_CLOSURE, "bye"))
                        .addListener(ChannelFutureListener.CLOSE);
            } else {
                malformedFrames.increment();
                ctx.writeAndFlush(new CloseWebSocketFrame(WebSocketCloseStatus.INVALID_MESSAGE_TYPE,
                        "binary frames only, one packet each")).addListener(ChannelFutureListener.CLOSE);
            }
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object event) throws Exception {
            if (event instanceof IdleStateEvent) {
                ctx.writeAndFlush(new CloseWebSocketFrame(WebSocketCloseStatus.POLICY_VIOLATION, "idle"))
                        .addListener(ChannelFutureListener.CLOSE);
            } else {
                super.userEventTriggered(ctx, event);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            // Oversized or malformed frames, resets: the session ends, the relay goes on.
            LOG.debug("WebSocket session of node {} failed: {}", node.nodeId(), cause.toString());
            malformedFrames.increment();
            ctx.writeAndFlush(new CloseWebSocketFrame(WebSocketCloseStatus.PROTOCOL_ERROR, "protocol error"))
                    .addListener(ChannelFutureListener.CLOSE);
        }

        @Override
        public boolean deliver(NodeKey source, ByteBuffer packet) {
            return outbox.offer(source, packet);
        }

        @Override
        public java.util.Map<String, Long> drops() {
            return outbox.droppedAfterTaking();
        }

        @Override
        public void closed(String reason) {
            channel.writeAndFlush(new CloseWebSocketFrame(WebSocketCloseStatus.POLICY_VIOLATION, truncate(reason)))
                    .addListener(ChannelFutureListener.CLOSE);
        }
    }

    /** A close frame's reason must fit 123 bytes. */
    static String truncate(String reason) {
        return reason.length() > 100 ? reason.substring(0, 100) : reason;
    }
}
