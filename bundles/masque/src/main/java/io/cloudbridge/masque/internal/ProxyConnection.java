package io.cloudbridge.masque.internal;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.handler.codec.http3.DefaultHttp3DataFrame;
import io.netty.handler.codec.http3.DefaultHttp3HeadersFrame;
import io.netty.handler.codec.http3.Http3;
import io.netty.handler.codec.http3.Http3ClientConnectionHandler;
import io.netty.handler.codec.http3.Http3DataFrame;
import io.netty.handler.codec.http3.Http3HeadersFrame;
import io.netty.handler.codec.http3.Http3RequestStreamInboundHandler;
import io.netty.handler.codec.http3.Http3Settings;
import io.netty.handler.codec.http3.Http3SettingsFrame;
import io.netty.handler.codec.http3.DefaultHttp3SettingsFrame;
import io.netty.handler.codec.quic.QuicChannel;
import io.netty.handler.codec.quic.QuicDatagramExtensionEvent;
import io.netty.handler.codec.quic.QuicSslContext;
import io.netty.handler.codec.quic.QuicStreamChannel;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The node's HTTP/3 connection to a MASQUE proxy (ours or any RFC 9298 one): it enables HTTP
 * Datagrams (SETTINGS_H3_DATAGRAM) and opens one extended CONNECT request stream per tunnel. A
 * tunnel's payloads go in QUIC DATAGRAM frames when the proxy enabled HTTP Datagrams too and they
 * fit, in DATAGRAM capsules otherwise; what comes back is taken from either.
 */
final class ProxyConnection {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(ProxyConnection.class);
    private final QuicChannel quic;
    private final Channel udp;
    private final Promise<Http3Settings> proxySettings;
    private final Map<Long, ClientTunnel> byStream = new ConcurrentHashMap<>();
    /** The largest HTTP Datagram the path to the proxy carries now. */
    private final PathDatagramLimit path;

    private ProxyConnection(QuicChannel quic, Channel udp, Promise<Http3Settings> proxySettings, Integer maxDatagramAtHandshake) {
        this.quic = quic;
        this.udp = udp;
        this.proxySettings = proxySettings;
        this.path = PathDatagramLimit.follow(quic, maxDatagramAtHandshake);
    }

    /** Connects to the proxy at {@code address}; the future completes once the proxy's SETTINGS arrived. */
    static Future<ProxyConnection> connect(EventLoopGroup group, InetSocketAddress address, QuicSslContext tls) {
        Promise<ProxyConnection> done = group.next().newPromise();
        ChannelHandler codec = Http3.newQuicClientCodecBuilder().sslContext(tls)
                .maxIdleTimeout(30, TimeUnit.SECONDS)
                .initialMaxData(4 << 20)
                .initialMaxStreamDataBidirectionalLocal(256 * 1024)
                .initialMaxStreamDataBidirectionalRemote(256 * 1024)
                .datagram(4096, 4096)
                // Room for a 1,200-byte UDP payload in an HTTP Datagram once discovery confirms a 1,500-byte path.
                .maxSendUdpPayloadSize(1_472)
                .discoverPmtu(true)
                .build();
        new Bootstrap().group(group).channel(NioDatagramChannel.class).handler(codec).bind(0).addListener(bound -> {
            if (!bound.isSuccess()) {
                done.tryFailure(bound.cause());
                return;
            }
            Channel udp = ((io.netty.channel.ChannelFuture) bound).channel();
            Promise<Http3Settings> settings = udp.eventLoop().newPromise();
            ProxyConnection[] self = new ProxyConnection[1];
            // The codec's datagram event fires at the handshake, before this connection object exists.
            Integer[] maxDatagram = {null};
            Http3Settings ours = Http3Settings.defaultSettings().enableH3Datagram(true);
            ChannelInboundHandlerAdapter control = new ChannelInboundHandlerAdapter() {
                @Override
                public void channelRead(ChannelHandlerContext ctx, Object msg) {
                    try {
                        if (msg instanceof Http3SettingsFrame s) {
                            LOG.debug("the proxy's HTTP/3 settings: {}", s.settings());
                            settings.trySuccess(s.settings());
                        } else {
                            LOG.debug("from the proxy's control stream: {}", msg);
                        }
                    } finally {
                        ReferenceCountUtil.release(msg);
                    }
                }
            };
            ChannelInboundHandlerAdapter datagrams = new ChannelInboundHandlerAdapter() {
                @Override
                public void channelRead(ChannelHandlerContext ctx, Object msg) {
                    if (msg instanceof ByteBuf frame) {
                        if (self[0] != null) {
                            self[0].datagram(frame);
                        } else {
                            frame.release(); // before the connection is ours: no tunnel to take it
                        }
                    } else {
                        // The proxy's streams pass on to the pipeline's end, which registers them: swallowed, they are never read.
                        ctx.fireChannelRead(msg);
                    }
                }

                @Override
                public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                    if (evt instanceof QuicDatagramExtensionEvent e) {
                        maxDatagram[0] = e.maxLength();

                    }
                    ctx.fireUserEventTriggered(evt);
                }

                @Override
                public void channelInactive(ChannelHandlerContext ctx) {
                    settings.tryFailure(new java.io.IOException("the proxy closed the connection"));
                    if (self[0] != null) {
                        self[0].byStream.values().forEach(t -> t.ended("the connection to the proxy closed"));
                    }
                    udp.close();
                    ctx.fireChannelInactive();
                }
            };
            QuicChannel.newBootstrap(udp).remoteAddress(address)
                    .handler(new io.netty.channel.ChannelInitializer<QuicChannel>() {
                        @Override
                        protected void initChannel(QuicChannel ch) {
                            ch.pipeline().addLast(new Http3ClientConnectionHandler(control, null, null,
                                    new DefaultHttp3SettingsFrame(ours), true));
                            ch.pipeline().addLast(datagrams);
                        }
                    })
                    .connect().addListener(f -> {
                        if (!f.isSuccess()) {
                            LOG.debug("no QUIC connection to the proxy at {}: {}", address, f.cause().toString());
                            udp.close();
                            done.tryFailure(f.cause());
                            return;
                        }
                        QuicChannel quic = (QuicChannel) f.getNow();
                        LOG.debug("QUIC connection to the proxy at {} up", address);
                        ProxyConnection c = new ProxyConnection(quic, udp, settings, maxDatagram[0]);
                        self[0] = c;
                        LOG.debug("the proxy takes HTTP datagrams of up to {} bytes on this path at the handshake", maxDatagram[0]);
                        settings.addListener(s -> {
                            if (s.isSuccess()) {
                                done.trySuccess(c);
                            } else {
                                done.tryFailure(s.cause());
                                c.close();
                            }
                        });
                        quic.eventLoop().schedule(() -> settings.tryFailure(
                                new java.io.IOException("the proxy sent no HTTP/3 SETTINGS within 10 s")), 10, TimeUnit.SECONDS);
                    });
        });
        return done;
    }

    boolean isOpen() {
        return quic.isActive();
    }

    void close() {
        quic.close();
        udp.close();
    }

    /** Whether the proxy said it takes HTTP Datagrams; before SETTINGS, no. */
    private boolean proxyDatagrams() {
        Http3Settings s = proxySettings.getNow();
        Boolean enabled = s == null ? null : s.h3DatagramEnabled();
        return enabled != null && enabled;
    }

    /**
     * Opens a CONNECT-UDP tunnel: the future completes when the proxy answered 2xx, or fails with
     * its status and reason. {@code onPayload} gets each UDP payload from the target (released by
     * the caller's copy: the buffer is released after the call).
     */
    Future<ClientTunnel> connectUdp(String authority, String path, String bearer, Consumer<ByteBuf> onPayload,
            Consumer<String> onEnd) {
        Promise<ClientTunnel> opened = quic.eventLoop().newPromise();
        Boolean connectProtocol = proxySettings.getNow() == null ? null : proxySettings.getNow().connectProtocolEnabled();
        if (connectProtocol == null || !connectProtocol) {
            opened.setFailure(new java.io.IOException("the proxy does not take extended CONNECT (no SETTINGS_ENABLE_CONNECT_PROTOCOL)"));
            return opened;
        }
        ClientTunnel tunnel = new ClientTunnel(onPayload, onEnd);
        Http3.newRequestStream(quic, tunnel.new Stream(opened)).addListener(f -> {
            if (!f.isSuccess()) {
                opened.tryFailure(f.cause());
                return;
            }
            QuicStreamChannel stream = (QuicStreamChannel) f.getNow();
            tunnel.stream = stream;
            byStream.put(stream.streamId(), tunnel);
            stream.closeFuture().addListener(c -> byStream.remove(stream.streamId()));
            DefaultHttp3HeadersFrame request = new DefaultHttp3HeadersFrame();
            request.headers().method("CONNECT").protocol("connect-udp").scheme("https").authority(authority).path(path)
                    .set("capsule-protocol", "?1");
            if (bearer != null) {
                request.headers().set("authorization", "Bearer " + bearer);
            }
            stream.writeAndFlush(request);
        });
        return opened;
    }

    private void datagram(ByteBuf frame) {
        try {
            HttpDatagrams.Datagram d = HttpDatagrams.parseQuic(frame);
            ClientTunnel t = d == null || d.contextId() != HttpDatagrams.PAYLOAD_CONTEXT ? null : byStream.get(d.streamId());
            if (t != null) {
                t.deliver(d.payload());
            }
        } catch (HttpDatagrams.MalformedDatagramException e) {
            quic.close(true, HttpDatagrams.H3_DATAGRAM_ERROR, Unpooled.copiedBuffer(e.getMessage(), StandardCharsets.UTF_8));
        } finally {
            frame.release();
        }
    }

    /** One tunnel through the proxy, on its request stream. */
    final class ClientTunnel {
        private final Consumer<ByteBuf> onPayload;
        private final Consumer<String> onEnd;
        volatile QuicStreamChannel stream;
        private volatile boolean open;
        private volatile boolean ended;

        ClientTunnel(Consumer<ByteBuf> onPayload, Consumer<String> onEnd) {
            this.onPayload = onPayload;
            this.onEnd = onEnd;
        }

        /** Sends one UDP payload to the target (released). False when the tunnel is not open. */
        boolean send(ByteBuf payload) {
            QuicStreamChannel s = stream;
            if (!open || s == null || !s.isActive()) {
                payload.release();
                return false;
            }
            int size = VarInt.size(s.streamId() >> 2) + 1 + payload.readableBytes();
            if (proxyDatagrams() && size <= path.get()) {
                quic.writeAndFlush(HttpDatagrams.quicDatagram(quic.alloc(), s.streamId(), payload), quic.voidPromise());
            } else {
                s.writeAndFlush(new DefaultHttp3DataFrame(Capsules.encode(s.alloc(), Capsules.DATAGRAM,
                        HttpDatagrams.capsuleValue(s.alloc(), payload))), s.voidPromise());
            }
            return true;
        }

        void close() {
            QuicStreamChannel s = stream;
            if (s != null && s.isActive()) {
                s.shutdownOutput(); // FIN: the proxy ends the tunnel and finishes its side
            }
            ended("closed");
        }

        private void deliver(ByteBuf payload) {
            if (open && !ended) {
                onPayload.accept(payload);
            }
        }

        void ended(String why) {
            if (!ended) {
                ended = true;
                onEnd.accept(why);
            }
        }

        /** The request stream: the proxy's answer, then capsules. */
        final class Stream extends Http3RequestStreamInboundHandler {
            private final Promise<ClientTunnel> opened;
            private Capsules.Parser capsules;
            private int status;
            private final StringBuilder refusal = new StringBuilder();

            Stream(Promise<ClientTunnel> opened) {
                this.opened = opened;
            }

            @Override
            protected void channelRead(ChannelHandlerContext ctx, Http3HeadersFrame frame) {
                if (status != 0) {
                    return; // trailers
                }
                CharSequence s = frame.headers().status();
                status = s == null ? 500 : Integer.parseInt(s.toString());
                if (status >= 200 && status < 300) {
                    capsules = new Capsules.Parser(ctx.alloc(), 65_535 + 8);
                    open = true;
                    opened.trySuccess(ClientTunnel.this);
                }
            }

            @Override
            protected void channelRead(ChannelHandlerContext ctx, Http3DataFrame frame) {
                ByteBuf content = frame.content();
                if (capsules == null) {
                    if (refusal.length() < 512) {
                        refusal.append(content.toString(StandardCharsets.UTF_8));
                    }
                    content.release();
                    return;
                }
                try {
                    List<Capsules.Capsule> got = capsules.feed(content);
                    for (Capsules.Capsule c : got) {
                        try {
                            if (c.type() == Capsules.DATAGRAM) {
                                HttpDatagrams.Datagram d = HttpDatagrams.parseCapsuleValue(0, c.value());
                                if (d != null && d.contextId() == HttpDatagrams.PAYLOAD_CONTEXT) {
                                    deliver(d.payload());
                                }
                            }
                        } finally {
                            c.value().release();
                        }
                    }
                } catch (Capsules.MalformedCapsuleException e) {
                    ended("the proxy sent a malformed capsule: " + e.getMessage());
                    ((QuicStreamChannel) ctx.channel()).shutdownOutput(RequestStream.H3_MESSAGE_ERROR);
                    ctx.close();
                }
            }

            @Override
            protected void channelInputClosed(ChannelHandlerContext ctx) {
                if (!open) {
                    opened.tryFailure(new ProxyRefusal(status, refusal.toString().trim()));
                }
                ended(open ? "the proxy ended the tunnel" : "refused");
                ctx.close();
            }

            @Override
            public void channelInactive(ChannelHandlerContext ctx) throws Exception {
                opened.tryFailure(new ProxyRefusal(status, "the stream closed before an answer"));
                ended("the stream closed");
                if (capsules != null) {
                    capsules.release();
                }
                super.channelInactive(ctx);
            }
        }
    }

    /** The proxy answered the CONNECT with a status other than 2xx. */
    static final class ProxyRefusal extends java.io.IOException {
        private static final long serialVersionUID = 1L;
        final int status;

        ProxyRefusal(int status, String reason) {
            super("the proxy answered " + status + (reason.isEmpty() ? "" : ": " + reason));
            this.status = status;
        }
    }
}
