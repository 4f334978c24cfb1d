package com.example.cloudbridge.tcp;

import io.cloudbridge.api.auth.CredentialRejectedException;
import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.api.relay.AuthenticatedNode;
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
import io.netty.handler.codec.LengthFieldBasedFrameDecoder;
import io.netty.handler.codec.LengthFieldPrepender;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;

/**
 * The relay's end: an {@link HttpRoute} on the relay's TLS listener. It authenticates the upgrade
 * with the node's token, answers 101, and attaches the connection to the packet switch. Only on a
 * relay are its two references satisfied.
 */
@Component(service = HttpRoute.class)
public final class TcpRoute implements HttpRoute {
    private final PacketSwitch packetSwitch;
    private final NodeSessionAuthenticator authenticator;
    private final ExecutorService checks = Executors.newSingleThreadExecutor(r -> new Thread(r, "example-tcp-auth"));
    private final Set<Channel> sessions = ConcurrentHashMap.newKeySet();

    @Activate
    public TcpRoute(@Reference PacketSwitch packetSwitch, @Reference NodeSessionAuthenticator authenticator) {
        this.packetSwitch = packetSwitch;
        this.authenticator = authenticator;
    }

    @Override
    public String path() {
        return TcpFrames.PATH;
    }

    @Override
    public void accept(ChannelHandlerContext ctx, FullHttpRequest request) {
        String auth = request.headers().get(HttpHeaderNames.AUTHORIZATION, "");
        if (!TcpFrames.PROTOCOL.equalsIgnoreCase(request.headers().get(HttpHeaderNames.UPGRADE)) || !auth.startsWith("Bearer ")) {
            answer(ctx, HttpResponseStatus.BAD_REQUEST, "upgrade to " + TcpFrames.PROTOCOL + " with a node token");
            return;
        }
        String token = auth.substring(7).trim();
        ctx.channel().config().setAutoRead(false);
        checks.execute(() -> {
            try {
                AuthenticatedNode node = authenticator.authenticate(token);
                ctx.channel().eventLoop().execute(() -> upgrade(ctx, node));
            } catch (CredentialRejectedException e) {
                ctx.channel().eventLoop().execute(() -> answer(ctx, HttpResponseStatus.UNAUTHORIZED, e.getMessage()));
            } catch (RuntimeException e) {
                // The relay cannot check tokens now (CredentialCheckUnavailableException, or a failure
                // of its own): come back later, never a refusal, and never a connection left hanging.
                ctx.channel().eventLoop().execute(() -> {
                    DefaultFullHttpResponse busy = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.SERVICE_UNAVAILABLE,
                            Unpooled.copiedBuffer("the relay cannot check tokens now\n", StandardCharsets.UTF_8));
                    busy.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, busy.content().readableBytes()).setInt(HttpHeaderNames.RETRY_AFTER, 2);
                    ctx.writeAndFlush(busy).addListener(ChannelFutureListener.CLOSE);
                });
            }
        });
    }

    private void upgrade(ChannelHandlerContext ctx, AuthenticatedNode node) {
        DefaultHttpResponse switching = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.SWITCHING_PROTOCOLS);
        switching.headers().set(HttpHeaderNames.UPGRADE, TcpFrames.PROTOCOL).set(HttpHeaderNames.CONNECTION, "Upgrade");
        Channel channel = ctx.channel();
        channel.writeAndFlush(switching).addListener(f -> {
            channel.pipeline().remove("aggregator");
            channel.pipeline().remove("http");
            Session session = new Session(channel);
            channel.pipeline().addLast(new LengthFieldBasedFrameDecoder(TcpFrames.MAX_FRAME + 2, 0, 2, 0, 2))
                    .addLast(new LengthFieldPrepender(2)).addLast(session);
            session.port = packetSwitch.attach(node, "example-tcp", session);
            sessions.add(channel);
            channel.closeFuture().addListener(c -> {
                sessions.remove(channel);
                session.port.close();
            });
            channel.config().setAutoRead(true);
        });
    }

    private static void answer(ChannelHandlerContext ctx, HttpResponseStatus status, String reason) {
        DefaultFullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
                Unpooled.copiedBuffer(reason + "\n", StandardCharsets.UTF_8));
        r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, r.content().readableBytes());
        ctx.writeAndFlush(r).addListener(ChannelFutureListener.CLOSE);
    }

    /** Removed: the sessions end and their nodes move to another transport. */
    @Deactivate
    void deactivate() {
        checks.shutdownNow();
        sessions.forEach(Channel::close);
    }

    private static final class Session extends SimpleChannelInboundHandler<ByteBuf> implements PortSink {
        private final Channel channel;
        private final byte[] key = new byte[TcpFrames.KEY];
        volatile SwitchPort port;

        Session(Channel channel) {
            this.channel = channel;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, ByteBuf frame) {
            if (frame.readableBytes() <= TcpFrames.KEY) {
                return;
            }
            frame.readBytes(key);
            port.forward(NodeKey.of(key), frame.nioBuffer(frame.readerIndex(), frame.readableBytes()));
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close(); // oversized or broken frames end the session
        }

        @Override
        public boolean deliver(NodeKey source, ByteBuffer packet) {
            if (!channel.isWritable()) {
                return false;
            }
            ByteBuf frame = channel.alloc().buffer(TcpFrames.KEY + packet.remaining());
            frame.writeBytes(source.toBytes()).writeBytes(packet.duplicate());
            channel.writeAndFlush(frame, channel.voidPromise());
            return true;
        }

        @Override
        public void closed(String reason) {
            channel.close();
        }
    }
}
