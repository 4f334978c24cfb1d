package io.cloudbridge.transport.quic.internal;

import io.cloudbridge.api.relay.CredentialRevocations;
import io.cloudbridge.api.relay.NodeSessionAuthenticator;
import io.cloudbridge.api.relay.PacketSwitch;
import io.cloudbridge.relay.spi.QuicRoute;
import io.cloudbridge.transport.support.ChannelLoops;
import io.netty.handler.codec.quic.QuicChannel;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
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
 * <p>
 * This is the wiring; each connection's session is made of parts with one job each:
 * <pre>
 *   control stream   ControlStream (which stream) → line decoder → ControlLineHandler (PING, AUTH)
 *                                                                        ↓ token
 *   sign-in          NodeAuthentication (off-loop check, revocation binding, port attach, deadline)
 *                                                                        ↓ port, outbox
 *   connection       DatagramDecoder ([key][packet] in → port) → DatagramLimit (path MTU → outbox, MTU line)
 *                    → SessionFailureLog
 *   switch → node    DatagramSink (→ Outbox → datagrams)
 *   ending           SessionCloser (ERR, BUSY, GOAWAY lines; close codes and phrases)
 * </pre>
 */
// Configured by the 'quic' section (authSeconds), whose description QuicTransport designates.
@Component(service = {QuicRoute.class, QuicRelayRoute.class}, configurationPid = "cloudbridge.quic", immediate = true)
public final class QuicRelayRoute implements QuicRoute {
    /** The session's parts log under the route's name, as they did when they were one class. */
    static final Logger LOG = LoggerFactory.getLogger(QuicRelayRoute.class);
    static final Logger SECURITY = LoggerFactory.getLogger("io.cloudbridge.security");

    private final NodeAuthentication.Services signIn;
    private final int authSeconds;
    private final long drainMillis;
    private final ExecutorService checks = new ThreadPoolExecutor(2, 2, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(1024), r -> {
        Thread t = new Thread(r, "relay-quic-auth");
        t.setDaemon(true);
        return t;
    });
    private final Map<QuicChannel, Session> connections = new ConcurrentHashMap<>();
    final LongAdder refused = new LongAdder();
    final LongAdder malformed = new LongAdder();

    @Activate
    public QuicRelayRoute(@Reference PacketSwitch packetSwitch, @Reference NodeSessionAuthenticator authenticator,
            @Reference CredentialRevocations revocations, QuicTransportConfig config) {
        this.authSeconds = config.authSeconds();
        this.drainMillis = config.drainMillis();
        this.signIn = new NodeAuthentication.Services(authenticator, revocations, packetSwitch, checks);
    }

    @Override
    public String alpn() {
        return QuicWire.ALPN;
    }

    /** One connection's parts, as the route ends them. */
    private record Session(NodeAuthentication auth, DatagramLimit limit, SessionCloser closer) {
        void ended() {
            auth.ended();
            limit.ended();
        }
    }

    @Override
    public void accept(QuicChannel connection) {
        ConnectionClose close = ConnectionClose.of(connection);
        ControlStream control = new ControlStream();
        SessionCloser closer = new SessionCloser(control, close, refused);
        DatagramLimit limit = new DatagramLimit(connection, control, PathMtuReader.of(connection));
        NodeAuthentication auth = new NodeAuthentication(connection, signIn, closer, control, limit);
        connection.attr(STREAM_HANDLER).set(() -> control.streamHandler(new ControlLineHandler(auth::begin, closer, malformed)));
        connection.pipeline().addLast("cloudbridge-datagrams", new DatagramDecoder(auth::port, malformed))
                .addLast("cloudbridge-datagram-limit", limit)
                .addLast("cloudbridge-failures", new SessionFailureLog(close::remoteAddress));
        Session session = new Session(auth, limit, closer);
        connections.put(connection, session);
        connection.closeFuture().addListener(f -> {
            connections.remove(connection);
            session.ended();
        });
        auth.deadline(authSeconds);
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
        Map<QuicChannel, Session> open = new HashMap<>(connections);
        CountDownLatch left = new CountDownLatch(open.size());
        open.forEach((c, session) -> {
            // On the channel's loop: the relay's listener, refreshed with this plugin, may have
            // shut it down already, and the session with it.
            boolean onLoop = ChannelLoops.runOn(c, () -> {
                c.closeFuture().addListener(f -> left.countDown());
                session.closer().goAway(session.auth().port() != null);
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
        connections.forEach((c, session) -> ChannelLoops.runOn(c, session.closer()::removed));
        connections.clear();
    }
}
