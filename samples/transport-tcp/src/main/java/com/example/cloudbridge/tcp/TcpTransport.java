package com.example.cloudbridge.tcp;

import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.api.transport.PacketReceiver;
import io.cloudbridge.api.transport.PacketSession;
import io.cloudbridge.api.transport.RelayEndpoint;
import io.cloudbridge.api.transport.RelayTransport;
import io.cloudbridge.api.transport.SessionCredentials;
import io.cloudbridge.api.transport.TransportCounters;
import io.cloudbridge.api.transport.TransportState;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.LengthFieldBasedFrameDecoder;
import io.netty.handler.codec.LengthFieldPrepender;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import java.nio.ByteBuffer;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.metatype.annotations.Designate;

/**
 * The node's end: a {@link RelayTransport} that reaches the relay's TLS listener (the endpoint the
 * relay gives for {@code wss://}) and upgrades the connection to the sample's framing. It does not
 * dial again by itself: a lost session is FAILED, and the node's transport selection opens a new
 * one (or uses another transport) with its own backoff.
 */
@Component(service = RelayTransport.class, configurationPid = "cloudbridge.tcp")
@Designate(ocd = TcpConfig.class)
public final class TcpTransport implements RelayTransport {
    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private final Set<Session> sessions = ConcurrentHashMap.newKeySet();
    private final int priority;

    @Activate
    public TcpTransport(TcpConfig config) {
        this.priority = config.priority();
    }

    @Override
    public String name() {
        return "example-tcp";
    }

    @Override
    public int priority() {
        return priority;
    }

    @Override
    public boolean supports(RelayEndpoint relay) {
        return "wss".equalsIgnoreCase(relay.uri().getScheme()) && relay.certificateSha256().isPresent();
    }

    @Override
    public CompletionStage<PacketSession> open(RelayEndpoint relay, SessionCredentials credentials, PacketReceiver receiver) {
        Session session = new Session(relay, receiver);
        sessions.add(session);
        try {
            session.connect(credentials, SslContextBuilder.forClient().trustManager(relay.pinnedTrust()).protocols("TLSv1.3").build());
        } catch (javax.net.ssl.SSLException e) {
            return CompletableFuture.failedFuture(e);
        }
        return session.opened;
    }

    /** Removed: every session ends, and the node moves its peers to another transport. */
    @Deactivate
    void deactivate() {
        sessions.forEach(Session::close);
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS);
    }

    private final class Session extends SimpleChannelInboundHandler<Object> implements PacketSession {
        final CompletableFuture<PacketSession> opened = new CompletableFuture<>();
        private final RelayEndpoint relay;
        private final PacketReceiver receiver;
        private final LongAdder sent = new LongAdder();
        private final LongAdder sentBytes = new LongAdder();
        private final LongAdder received = new LongAdder();
        private final LongAdder receivedBytes = new LongAdder();
        private final LongAdder dropped = new LongAdder();
        private final byte[] key = new byte[TcpFrames.KEY];
        private volatile TransportState state = TransportState.CONNECTING;
        private volatile Channel channel;

        Session(RelayEndpoint relay, PacketReceiver receiver) {
            this.relay = relay;
            this.receiver = receiver;
        }

        void connect(SessionCredentials credentials, SslContext tls) {
            String host = relay.uri().getHost();
            int port = relay.uri().getPort() > 0 ? relay.uri().getPort() : 443;
            new Bootstrap().group(group).channel(NioSocketChannel.class).handler(new ChannelInitializer<SocketChannel>() {
                @Override
                protected void initChannel(SocketChannel ch) {
                    ch.pipeline().addLast("tls", tls.newHandler(ch.alloc(), host, port)).addLast("http", new HttpClientCodec())
                            .addLast("aggregator", new HttpObjectAggregator(8192)).addLast("session", Session.this);
                }
            }).connect(host, port).addListener(f -> {
                if (!f.isSuccess()) {
                    end("cannot connect: " + f.cause().getMessage());
                    return;
                }
                channel = ((io.netty.channel.ChannelFuture) f).channel();
                DefaultFullHttpRequest upgrade = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, TcpFrames.PATH);
                upgrade.headers().set(HttpHeaderNames.HOST, host).set(HttpHeaderNames.UPGRADE, TcpFrames.PROTOCOL)
                        .set(HttpHeaderNames.CONNECTION, "Upgrade").set(HttpHeaderNames.AUTHORIZATION, "Bearer " + credentials.token().get());
                channel.writeAndFlush(upgrade);
            });
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof FullHttpResponse response) {
                if (response.status().code() != 101) {
                    end("relay refused the upgrade: HTTP " + response.status().code());
                    ctx.close();
                    return;
                }
                ctx.pipeline().remove("aggregator");
                ctx.pipeline().remove("http");
                ctx.pipeline().addBefore("session", "frames", new LengthFieldBasedFrameDecoder(TcpFrames.MAX_FRAME + 2, 0, 2, 0, 2))
                        .addBefore("session", "length", new LengthFieldPrepender(2));
                state = TransportState.CONNECTED;
                opened.complete(this);
            } else if (msg instanceof ByteBuf frame && frame.readableBytes() > TcpFrames.KEY) {
                frame.readBytes(key);
                received.increment();
                receivedBytes.add(frame.readableBytes());
                receiver.onPacket(NodeKey.of(key), frame.nioBuffer(frame.readerIndex(), frame.readableBytes()));
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            end("connection closed");
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }

        private void end(String reason) {
            if (state == TransportState.CLOSED || state == TransportState.FAILED) {
                return;
            }
            state = TransportState.FAILED;
            sessions.remove(this);
            opened.completeExceptionally(new java.io.IOException(reason));
            receiver.onStateChanged(this, TransportState.FAILED, reason);
        }

        @Override
        public String transportName() {
            return name();
        }

        @Override
        public RelayEndpoint relay() {
            return relay;
        }

        @Override
        public TransportState state() {
            return state;
        }

        @Override
        public TransportCounters counters() {
            return new TransportCounters(sent.sum(), sentBytes.sum(), received.sum(), receivedBytes.sum(), dropped.sum());
        }

        @Override
        public int maxPacketSize() {
            return TcpFrames.MAX_FRAME - TcpFrames.KEY;
        }

        @Override
        public boolean send(NodeKey destination, ByteBuffer packet) {
            Channel c = channel;
            if (state != TransportState.CONNECTED || c == null || !c.isWritable() || packet.remaining() > maxPacketSize()) {
                dropped.increment();
                return false;
            }
            ByteBuf frame = c.alloc().buffer(TcpFrames.KEY + packet.remaining());
            frame.writeBytes(destination.toBytes()).writeBytes(packet.duplicate());
            c.writeAndFlush(frame, c.voidPromise());
            sent.increment();
            sentBytes.add(packet.remaining());
            return true;
        }

        @Override
        public void close() {
            if (state == TransportState.CLOSED) {
                return;
            }
            state = TransportState.CLOSED;
            sessions.remove(this);
            opened.completeExceptionally(new java.io.IOException("closed"));
            Channel c = channel;
            if (c != null) {
                c.close();
            }
            receiver.onStateChanged(this, TransportState.CLOSED, "");
        }
    }
}
