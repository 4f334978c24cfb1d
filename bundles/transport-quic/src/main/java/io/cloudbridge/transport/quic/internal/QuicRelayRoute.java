package io.cloudbridge.transport.quic.internal;

import io.cloudbridge.api.auth.CredentialRejectedException;
import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.api.relay.AuthenticatedNode;
import io.cloudbridge.api.relay.CredentialRevocations;
import io.cloudbridge.api.relay.NodeSessionAuthenticator;
import io.cloudbridge.api.relay.PacketSwitch;
import io.cloudbridge.api.relay.PortSink;
import io.cloudbridge.api.relay.SwitchPort;
import io.cloudbridge.relay.spi.QuicRoute;
import io.cloudbridge.transport.support.Outbox;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.handler.codec.quic.QuicChannel;
import io.netty.handler.codec.quic.QuicDatagramExtensionEvent;
import io.netty.handler.codec.quic.QuicStreamChannel;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ConcurrentHashMap;
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
 * The relay's side of the QUIC transport, on the relay's QUIC listener for ALPN
 * {@value QuicWire#ALPN}. A connection proves its node on its control stream within
 * {@code quic.authSeconds}, or is closed; until then its datagrams are dropped. Then it is the
 * node's port in the packet switch. Removing this bundle tells each node to move (GOAWAY), gives
 * them {@code quic.drainMillis} to move to another transport, and closes what is left.
 */
// Configured by the 'quic' section (authSeconds), whose description QuicTransport designates.
@Component(service = QuicRoute.class, configurationPid = "cloudbridge.quic", immediate = true)
public final class QuicRelayRoute implements QuicRoute {
    private static final Logger LOG = LoggerFactory.getLogger(QuicRelayRoute.class);
    static final Logger SECURITY = LoggerFactory.getLogger("io.cloudbridge.security");
    /** What BUSY asks (the control plane cannot check tokens now, too many sign-ins at once). */
    static final int BUSY_RETRY_SECONDS = 2;

    private final PacketSwitch packetSwitch;
    private final NodeSessionAuthenticator authenticator;
    private final CredentialRevocations revocations;
    private final int authSeconds;
    private final long drainMillis;
    private final ExecutorService checks = new ThreadPoolExecutor(2, 2, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(1024), r -> {
        Thread t = new Thread(r, "relay-quic-auth");
        t.setDaemon(true);
        return t;
    });
    private final java.util.Map<QuicChannel, Session> connections = new ConcurrentHashMap<>();
    final LongAdder refused = new LongAdder();
    final LongAdder malformed = new LongAdder();

    @Activate
    public QuicRelayRoute(@Reference PacketSwitch packetSwitch, @Reference NodeSessionAuthenticator authenticator,
            @Reference CredentialRevocations revocations, QuicTransportConfig config) {
        this.revocations = revocations;
        this.authSeconds = config.authSeconds();
        this.drainMillis = config.drainMillis();
        this.packetSwitch = packetSwitch;
        this.authenticator = authenticator;
    }

    @Override
    public String alpn() {
        return QuicWire.ALPN;
    }

    @Override
    public void accept(QuicChannel connection) {
        Session session = new Session(connection);
        connection.attr(STREAM_HANDLER).set(session::streamHandler);
        connection.pipeline().addLast("cloudbridge-session", session);
        connections.put(connection, session);
        connection.closeFuture().addListener(f -> {
            connections.remove(connection);
            session.ended();
        });
        connection.eventLoop().schedule(() -> {
            if (session.port == null && connection.isActive()) {
                session.refuse("no AUTH within " + authSeconds + " s");
            }
        }, authSeconds, TimeUnit.SECONDS);
    }

    /**
     * Make before break, from the relay's side: by now the listener no longer hands this route new
     * connections; each node is told to move (GOAWAY) and keeps forwarding here while it brings up
     * another transport and moves its peers, then closes this session itself. What is still open
     * after {@code quic.drainMillis} is closed.
     */
    @Deactivate
    void deactivate() {
        checks.shutdownNow();
        java.util.Map<QuicChannel, Session> open = new java.util.HashMap<>(connections);
        java.util.concurrent.CountDownLatch left = new java.util.concurrent.CountDownLatch(open.size());
        open.forEach((c, session) -> {
            // On the channel's loop: the relay's listener, refreshed with this plugin, may have
            // shut it down already, and the session with it.
            boolean onLoop = io.cloudbridge.transport.support.ChannelLoops.runOn(c, () -> {
                c.closeFuture().addListener(f -> left.countDown());
                QuicStreamChannel control = session.control;
                if (session.port != null && control != null && control.isActive()) {
                    send(control, "GOAWAY the relay's QUIC transport is being removed");
                } else {
                    c.close(true, QuicWire.GOING_AWAY, Unpooled.copiedBuffer("transport removed", StandardCharsets.UTF_8));
                }
            });
            if (!onLoop) {
                left.countDown();
            }
        });
        try {
            if (!left.await(drainMillis, TimeUnit.MILLISECONDS)) {
                LOG.info("{} QUIC sessions still open after {} ms; closing them", left.getCount(), drainMillis);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        for (QuicChannel c : connections.keySet()) {
            io.cloudbridge.transport.support.ChannelLoops.runOn(c,
                    () -> c.close(true, QuicWire.GOING_AWAY, Unpooled.copiedBuffer("transport removed", StandardCharsets.UTF_8)));
        }
        connections.clear();
    }


    static void send(QuicStreamChannel stream, String line) {
        stream.writeAndFlush(Unpooled.copiedBuffer(line + "\n", StandardCharsets.UTF_8));
    }

    /** One node's QUIC connection: datagrams to the switch, the switch's packets out as datagrams. */
    private final class Session extends ChannelInboundHandlerAdapter implements PortSink {
        private final QuicChannel connection;
        private final byte[] keyBytes = new byte[QuicWire.KEY_LENGTH];
        private volatile SwitchPort port;
        private volatile Outbox outbox;
        private volatile int peerMaxDatagram = 0;
        private volatile QuicStreamChannel control;
        private boolean authenticating;
        private volatile java.util.concurrent.ScheduledFuture<?> pathChecks;
        private long pathMtu = -1;
        private long attachedNanos;
        /** The token bound to the relay's revocation signal; closed when the connection ends. */
        private volatile CredentialRevocations.Binding binding;
        /** Why the credential was revoked, once it was (on the connection's loop): no port is attached after. */
        private String revoked;

        Session(QuicChannel connection) {
            this.connection = connection;
        }

        /** The control stream: the first the node opens; any other is refused. */
        ChannelHandler streamHandler() {
            ChannelHandler lines = QuicWire.lines(this::onLine, cause -> {
                malformed.increment();
                refuse("malformed control stream: " + cause.getClass().getSimpleName());
            });
            return new ChannelInitializer<QuicStreamChannel>() {
                @Override
                protected void initChannel(QuicStreamChannel stream) {
                    if (control != null) {
                        stream.close();
                        return;
                    }
                    control = stream;
                    stream.pipeline().addLast(lines);
                }
            };
        }

        private void onLine(QuicStreamChannel stream, String text) {
            ControlLine line = ControlLine.fromNode(text);
            if (line.kind() == ControlLine.Kind.PING) {
                send(stream, "PONG");
            } else if (line.kind() == ControlLine.Kind.AUTH && port == null && !authenticating) {
                authenticating = true;
                String token = line.argument();
                try {
                    checks.execute(() -> authenticate(stream, token));
                } catch (RejectedExecutionException busy) {
                    refuseForNow("too many sessions signing in");
                }
            } else {
                malformed.increment();
                refuse("unexpected control message");
            }
        }

        /**
         * Off the loop: the token's node, then the token bound to the revocation signal before the
         * port is attached (so a removal that raced this check ends the session: either the binding
         * is refused, or the revocation finds it and arrives on the loop before or after the attach).
         */
        private void authenticate(QuicStreamChannel stream, String token) {
            AuthenticatedNode node;
            try {
                node = authenticator.authenticate(token);
                binding = revocations.bind(token, reason -> connection.eventLoop().execute(() -> revoke(reason)));
            } catch (CredentialRejectedException e) {
                connection.eventLoop().execute(() -> refuse(e.getMessage()));
                return;
            } catch (RuntimeException e) {
                LOG.warn("authenticating a QUIC session failed: {}", e.toString());
                connection.eventLoop().execute(() -> refuseForNow("the relay cannot check tokens now"));
                return;
            }
            connection.eventLoop().execute(() -> {
                if (!connection.isActive() || revoked != null) {
                    closeBinding(); // closed while the token was checked, or revoked since: no port
                    return;
                }
                int max = peerMaxDatagram > 0 ? peerMaxDatagram : QuicWire.MAX_SEND_UDP_PAYLOAD - PathMtu.QUIC_DATAGRAM_OVERHEAD;
                outbox = new Outbox(connection, b -> b, max - QuicWire.KEY_LENGTH);
                port = packetSwitch.attach(node, "quic", this);
                send(stream, "OK " + max);
                attachedNanos = System.nanoTime();
                checkPath();
            });
        }

        /**
         * Follows the path MTU the relay's side of the connection discovered: the relay sends the
         * node no datagram larger than that path carries, and tells the node (MTU line), whose
         * overlay MTU then fits both directions.
         */
        private void checkPath() {
            if (!connection.isActive()) {
                return;
            }
            // Often while the node's session settles (its discovery and ours run together), then seldom.
            boolean settling = System.nanoTime() - attachedNanos < TimeUnit.MILLISECONDS.toNanos(PathMtu.SETTLE_AT_MOST_MILLIS);
            pathChecks = connection.eventLoop().schedule(this::checkPath, settling ? PathMtu.SETTLE_POLL_MILLIS
                    : QuicSession.PATH_CHECK_MILLIS, TimeUnit.MILLISECONDS);
            connection.collectPathStats(0).addListener(f -> {
                if (!f.isSuccess()) {
                    return;
                }
                long pmtu = ((io.netty.handler.codec.quic.QuicConnectionPathStats) f.getNow()).pmtu();
                if (pmtu == pathMtu) {
                    return;
                }
                pathMtu = pmtu;
                int limit = Math.min(peerMaxDatagram > 0 ? peerMaxDatagram : Integer.MAX_VALUE, PathMtu.datagramLimit(pmtu));
                Outbox o = outbox;
                if (o != null) {
                    o.maxPacket(limit - QuicWire.KEY_LENGTH);
                }
                QuicStreamChannel c = control;
                if (c != null && c.isActive()) {
                    send(c, "MTU " + limit);
                }
            });
        }

        /** On the loop: the session's credential was revoked or expired. */
        private void revoke(String reason) {
            revoked = reason;
            if (connection.isActive()) {
                SECURITY.info("QUIC relay session of {} ended: {}", port == null ? "a node" : "node " + port.node().nodeId(), reason);
                close(reason);
            }
        }

        private void closeBinding() {
            CredentialRevocations.Binding b = binding;
            if (b != null) {
                b.close();
            }
        }

        void refuse(String reason) {
            refused.increment();
            SECURITY.warn("QUIC relay session refused: {} (from {})", reason, connection.remoteSocketAddress());
            QuicStreamChannel c = control;
            if (c != null && c.isActive()) {
                send(c, "ERR " + reason);
            }
            close(reason);
        }

        /** Refused with nothing against the node: it is asked to come back in {@value #BUSY_RETRY_SECONDS} s. */
        void refuseForNow(String reason) {
            refused.increment();
            SECURITY.warn("QUIC relay session refused for now: {} (from {})", reason, connection.remoteSocketAddress());
            QuicStreamChannel c = control;
            String line = "BUSY " + BUSY_RETRY_SECONDS + " " + reason;
            if (c != null && c.isActive()) {
                send(c, line);
            }
            // The close's phrase repeats the line: the close may overtake it.
            byte[] phrase = line.getBytes(StandardCharsets.UTF_8);
            connection.close(true, QuicWire.BUSY_CLOSE, Unpooled.wrappedBuffer(phrase, 0, Math.min(phrase.length, 200)));
        }

        void close(String reason) {
            byte[] phrase = reason.getBytes(StandardCharsets.UTF_8);
            connection.close(true, QuicWire.POLICY_CLOSE, Unpooled.wrappedBuffer(phrase, 0, Math.min(phrase.length, 200)));
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (!(msg instanceof ByteBuf datagram)) {
                ctx.fireChannelRead(msg);
                return;
            }
            try {
                SwitchPort p = port;
                if (p == null || datagram.readableBytes() <= QuicWire.KEY_LENGTH) {
                    malformed.increment(); // before AUTH, or no room for a packet: dropped, counted
                    return;
                }
                datagram.readBytes(keyBytes);
                ByteBuffer packet = datagram.nioBuffer(datagram.readerIndex(), datagram.readableBytes());
                p.forward(NodeKey.of(keyBytes), packet);
            } finally {
                datagram.release();
            }
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object event) throws Exception {
            if (event instanceof QuicDatagramExtensionEvent e) {
                peerMaxDatagram = e.maxLength();
                Outbox o = outbox;
                if (o != null) {
                    o.maxPacket(e.maxLength() - QuicWire.KEY_LENGTH);
                }
            }
            super.userEventTriggered(ctx, event);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            LOG.debug("QUIC session from {} failed: {}", connection.remoteSocketAddress(), cause.toString());
        }

        void ended() {
            closeBinding();
            java.util.concurrent.ScheduledFuture<?> checks = pathChecks;
            if (checks != null) {
                checks.cancel(false);
            }
            SwitchPort p = port;
            if (p != null) {
                p.close();
            }
            Outbox o = outbox;
            if (o != null) {
                o.discard();
            }
        }

        @Override
        public boolean deliver(NodeKey source, ByteBuffer packet) {
            Outbox o = outbox;
            return o != null && o.offer(source, packet);
        }

        @Override
        public void closed(String reason) {
            close(reason);
        }
    }
}
