package io.cloudbridge.itest;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.handler.codec.http3.DefaultHttp3HeadersFrame;
import io.netty.handler.codec.http3.DefaultHttp3SettingsFrame;
import io.netty.handler.codec.http3.Http3;
import io.netty.handler.codec.http3.Http3ClientConnectionHandler;
import io.netty.handler.codec.http3.Http3DataFrame;
import io.netty.handler.codec.http3.Http3HeadersFrame;
import io.netty.handler.codec.http3.Http3RequestStreamInboundHandler;
import io.netty.handler.codec.http3.Http3Settings;
import io.netty.handler.codec.quic.QuicChannel;
import io.netty.handler.codec.quic.QuicConnectionCloseEvent;
import io.netty.handler.codec.quic.QuicSslContextBuilder;
import io.netty.handler.codec.quic.QuicStreamChannel;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import java.io.ByteArrayOutputStream;
import java.net.InetSocketAddress;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A bare HTTP/3 client for tests that must write what a library would not: Netty's HTTP/3 codec
 * with HTTP Datagrams enabled, extended CONNECT written field by field, QUIC DATAGRAM frames made
 * by hand. What the server sends back is kept raw (datagrams, stream bytes) for the test to read.
 */
public final class RawH3 implements AutoCloseable {
    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    public final QuicChannel quic;
    final String host;
    final int port;
    /** QUIC DATAGRAM frames from the server, whole. */
    public final LinkedBlockingQueue<byte[]> datagrams = new LinkedBlockingQueue<>();
    /** The error code of the server's CONNECTION_CLOSE. */
    public final CompletableFuture<Long> closedWith = new CompletableFuture<>();

    public RawH3(int port) throws Exception {
        this("127.0.0.1", port);
    }

    public RawH3(String host, int port) throws Exception {
        this.host = host;
        this.port = port;
        try {
            Channel udp = new Bootstrap().group(group).channel(NioDatagramChannel.class)
                    .handler(Http3.newQuicClientCodecBuilder()
                            .sslContext(QuicSslContextBuilder.forClient().trustManager(InsecureTrustManagerFactory.INSTANCE)
                                    .applicationProtocols("h3").build())
                            .maxIdleTimeout(30, TimeUnit.SECONDS).initialMaxData(1 << 20)
                            // Loopback carries 1,472-byte packets: room for a datagram over masque.maxPayload (1,400).
                            .maxSendUdpPayloadSize(1_472)
                            .initialMaxStreamDataBidirectionalLocal(1 << 16).datagram(256, 256).build())
                    .bind(0).sync().channel();
            quic = QuicChannel.newBootstrap(udp).remoteAddress(new InetSocketAddress(host, port))
                    .handler(new ChannelInitializer<QuicChannel>() {
                        @Override
                        protected void initChannel(QuicChannel ch) {
                            ch.pipeline().addLast(new Http3ClientConnectionHandler(null, null, null,
                                    new DefaultHttp3SettingsFrame(Http3Settings.defaultSettings().enableH3Datagram(true)), true));
                            ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                                @Override
                                public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                    if (msg instanceof ByteBuf b) {
                                        datagrams.add(ByteBufUtil.getBytes(b));
                                        b.release();
                                    } else {
                                        ctx.fireChannelRead(msg);
                                    }
                                }

                                @Override
                                public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                                    if (evt instanceof QuicConnectionCloseEvent e) {
                                        closedWith.complete((long) e.error());
                                    }
                                    ctx.fireUserEventTriggered(evt);
                                }
                            });
                        }
                    }).connect().get(10, TimeUnit.SECONDS);
        } catch (Exception e) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            throw e;
        }
    }

    /** One request stream: the response's status, then every DATA frame's bytes in order. */
    public final class Request {
        public final QuicStreamChannel stream;
        public final CompletableFuture<String> status = new CompletableFuture<>();
        public final LinkedBlockingQueue<byte[]> data = new LinkedBlockingQueue<>();
        public final CompletableFuture<Void> ended = new CompletableFuture<>();

        private Request(QuicStreamChannel stream) {
            this.stream = stream;
        }

        /** The quarter stream id its HTTP Datagrams carry. */
        public long quarter() {
            return stream.streamId() / 4;
        }

        /** Writes bytes on the stream as one DATA frame (e.g. capsules). */
        public void send(byte[] bytes) throws InterruptedException {
            stream.writeAndFlush(new io.netty.handler.codec.http3.DefaultHttp3DataFrame(Unpooled.wrappedBuffer(bytes))).sync();
        }

        /** Everything the server wrote on the stream until now or until {@code millis} pass without more. */
        public byte[] drain(long millis) throws InterruptedException {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            byte[] next;
            while ((next = data.poll(millis, TimeUnit.MILLISECONDS)) != null) {
                out.writeBytes(next);
            }
            return out.toByteArray();
        }
    }

    /** Sends extended CONNECT for {@code protocol} at {@code path}, with capsule-protocol and, when given, a bearer token. */
    public Request connect(String protocol, String path, String token, boolean capsuleProtocol) throws Exception {
        Request[] holder = new Request[1];
        CompletableFuture<Request> made = new CompletableFuture<>();
        QuicStreamChannel stream = Http3.newRequestStream(quic, new Http3RequestStreamInboundHandler() {
            @Override
            protected void channelRead(ChannelHandlerContext ctx, Http3HeadersFrame frame) {
                made.join().status.complete(String.valueOf(frame.headers().status()));
            }

            @Override
            protected void channelRead(ChannelHandlerContext ctx, Http3DataFrame frame) {
                made.join().data.add(ByteBufUtil.getBytes(frame.content()));
                frame.release();
            }

            @Override
            protected void channelInputClosed(ChannelHandlerContext ctx) {
                made.join().ended.complete(null);
            }

            @Override
            public void channelInactive(ChannelHandlerContext ctx) throws Exception {
                made.join().ended.complete(null);
                super.channelInactive(ctx);
            }

            @Override
            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                made.join().ended.complete(null); // a stream the server reset (RESET_STREAM) comes as an exception
                ctx.close();
            }
        }).get(10, TimeUnit.SECONDS);
        holder[0] = new Request(stream);
        made.complete(holder[0]);
        DefaultHttp3HeadersFrame connect = new DefaultHttp3HeadersFrame();
        connect.headers().method("CONNECT").protocol(protocol).scheme("https").authority(host + ":" + port).path(path);
        if (capsuleProtocol) {
            connect.headers().set("capsule-protocol", "?1");
        }
        if (token != null) {
            connect.headers().set("authorization", "Bearer " + token);
        }
        stream.writeAndFlush(connect).sync();
        return holder[0];
    }

    /** Sends one QUIC DATAGRAM frame, as given. */
    public void datagram(byte[] frame) throws InterruptedException {
        quic.writeAndFlush(Unpooled.wrappedBuffer(frame)).sync();
    }

    @Override
    public void close() {
        quic.close();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }
}
