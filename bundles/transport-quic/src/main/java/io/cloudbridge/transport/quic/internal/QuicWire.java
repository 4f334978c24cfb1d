package io.cloudbridge.transport.quic.internal;

/**
 * The QUIC transport's protocol, ALPN {@value #ALPN}. Each overlay packet is one QUIC DATAGRAM
 * frame (RFC 9221): {@code [32-byte WireGuard public key][encrypted WireGuard message]}, the key
 * naming the destination from node to relay and the source from relay to node. The node opens one
 * bidirectional stream for the session's control messages, lines of UTF-8:
 * <pre>
 *   node  → relay   AUTH &lt;node token&gt;      relay → node   OK &lt;largest datagram the relay takes&gt;
 *                                           relay → node   MTU &lt;largest datagram the relay's path to the node carries&gt;
 *                                           relay → node   GOAWAY &lt;reason&gt;  (the relay closes the session soon:
 *                                                          the node moves to another transport first)
 *   node  → relay   PING                    relay → node   PONG
 *                                           relay → node   ERR &lt;reason&gt;   (then the connection closes)
 *                                           relay → node   BUSY &lt;seconds&gt; &lt;reason&gt;  (refused for now: the node
 *                                                          dials again after that many seconds; then the
 *                                                          connection closes with {@link #BUSY_CLOSE} and
 *                                                          the same line as its phrase)
 * </pre>
 * A relay closes a session for a reason of policy (token refused, node removed, replaced by a
 * newer session) with the application error {@link #POLICY_CLOSE} and the reason as its phrase:
 * the node does not dial again. Any other loss is dialled again with backoff. Both ends discover
 * their path MTU (don't-fragment probes, {@link PathMtu}); the relay sends MTU whenever its side's
 * changes, and the node keeps its datagrams, and so its overlay MTU, within both directions' limit.
 */
final class QuicWire {
    static final String ALPN = "cloudbridge/1";
    static final int KEY_LENGTH = 32;
    /** A control line, at most. */
    static final int MAX_LINE = 8 * 1024;
    /** The application error of a close for a reason of policy. */
    static final int POLICY_CLOSE = 0x108;
    /** The application error of a close because the transport is going away (plugin removed, relay stopping). */
    static final int GOING_AWAY = 0x101;
    /**
     * The application error of a close after BUSY: not one of policy, so a node that does not know
     * BUSY dials again with its backoff, as it would after any other loss.
     */
    static final int BUSY_CLOSE = 0x102;
    /**
     * The largest UDP payload the node receives, and advertises (QUIC's max_udp_payload_size): room
     * for a 1,500-byte link's 1,472 and some. It is the slot size of a batched read too, so more
     * would cost memory per read for datagrams the relay does not send (it probes no further).
     */
    static final int MAX_RECV_UDP_PAYLOAD = 2_048;
    /** Datagrams per system call with epoll (recvmmsg, UDP GSO). */
    static final int DATAGRAMS_PER_CALL = 16;
    /** The largest it sends before path MTU discovery finds more: a 1,500-byte IPv4 link. */
    static final int MAX_SEND_UDP_PAYLOAD = 1_472;

    private QuicWire() {
    }

    /** Splits a control stream into lines, refusing one longer than {@link #MAX_LINE} (TooLongFrameException). */
    static io.netty.handler.codec.LineBasedFrameDecoder lineDecoder() {
        return new io.netty.handler.codec.LineBasedFrameDecoder(MAX_LINE, true, true);
    }

    /** A control stream's handler: lines of UTF-8, at most {@link #MAX_LINE} bytes each, handed to {@code onLine}. */
    static io.netty.channel.ChannelHandler lines(java.util.function.BiConsumer<io.netty.handler.codec.quic.QuicStreamChannel, String> onLine,
            java.util.function.Consumer<Throwable> onError) {
        return new io.netty.channel.ChannelInitializer<io.netty.handler.codec.quic.QuicStreamChannel>() {
            @Override
            protected void initChannel(io.netty.handler.codec.quic.QuicStreamChannel stream) {
                stream.pipeline().addLast(lineDecoder())
                        .addLast(new io.netty.channel.ChannelInboundHandlerAdapter() {
                            @Override
                            public void channelRead(io.netty.channel.ChannelHandlerContext ctx, Object msg) {
                                io.netty.buffer.ByteBuf line = (io.netty.buffer.ByteBuf) msg;
                                String text;
                                try {
                                    text = line.toString(java.nio.charset.StandardCharsets.UTF_8);
                                } finally {
                                    line.release();
                                }
                                onLine.accept(stream, text);
                            }

                            @Override
                            public void exceptionCaught(io.netty.channel.ChannelHandlerContext ctx, Throwable cause) {
                                onError.accept(cause);
                            }
                        });
            }
        };
    }
}
