package io.cloudbridge.paths.internal;

import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.api.path.DatagramBatch;
import io.cloudbridge.api.path.PathBinding;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The overlay's {@link PathBinding}: its UDP socket, shared with hole punching as RFC 7983 says
 * (datagrams that are not WireGuard's go to the {@link Claims}, and their answers leave from the
 * same 5-tuple), and per peer the route the paths choose, else the socket to the peer's endpoint.
 *
 * <p>Stages of a send: the peer's route ({@link Routes}: a direct path, the relay), if it has one;
 * else the socket to the endpoint, waiting briefly while its send buffer is full; a burst to one
 * peer goes to the socket in one call. Stages of a receive: the socket's datagrams into the batch,
 * what is not WireGuard-shaped to the claims first. The socket is Linux's epoll one (bursts a
 * system call, UDP GSO and GRO) where it can be had, else the JDK's ({@link OverlaySocket}).
 */
public final class OverlayBinding implements PathBinding {
    private static final Logger LOG = LoggerFactory.getLogger(OverlayBinding.class);

    /** Chooses the way for a peer's message and sends it. */
    public interface Routes {
        /** What became of the message, or {@code null} when there is no route for the peer now (the endpoint is tried). */
        Sent send(NodeKey peer, ByteBuffer message);
    }

    /** Takes the socket's datagrams that are not WireGuard's (STUN for hole punching). */
    public interface Claims {
        /** Whether the datagram was taken; the buffer is valid during the call only. */
        boolean claim(InetSocketAddress from, ByteBuffer datagram);
    }

    private static final Routes NO_ROUTES = (peer, message) -> null;
    private static final Claims NO_CLAIMS = (from, datagram) -> false;

    private final OverlaySocket socket;
    private volatile Routes routes;
    private final Claims claims;
    private volatile Arrivals arrivals;
    /**
     * Set once by {@link #close}: the engine that held this binding is gone or moved on, so nothing
     * may reach it or leave for it any more (not even over the relay, which needs no socket).
     */
    private volatile boolean closed;

    /** Takes over a bound channel (deep buffers, non-blocking from now on), with no routes or claims: the socket alone. */
    public OverlayBinding(DatagramChannel channel) throws IOException {
        this(channel, NO_ROUTES, NO_CLAIMS);
    }

    /** Takes over a bound channel: deep buffers, non-blocking from now on. */
    public OverlayBinding(DatagramChannel channel, Routes routes, Claims claims) throws IOException {
        this.routes = routes;
        this.claims = claims;
        this.socket = new JdkOverlaySocket(channel, this::claimed);
    }

    private OverlayBinding(InetSocketAddress address, Routes routes, Claims claims, boolean batching) throws IOException {
        this.routes = routes;
        this.claims = claims;
        this.socket = openSocket(address, batching);
    }

    /**
     * Opens a socket bound to {@code address} (port 0: any free port), with no routes or claims.
     *
     * @param batching whether to use Linux's epoll, with UDP GSO and GRO where the kernel has them
     *                 (the JDK's socket otherwise, and where epoll is missing)
     */
    public static OverlayBinding open(InetSocketAddress address, boolean batching) throws IOException {
        return new OverlayBinding(address, NO_ROUTES, NO_CLAIMS, batching);
    }

    /** Opens a socket bound to {@code address}; {@code batching}: see {@link #open}. */
    static OverlayBinding bind(InetSocketAddress address, Routes routes, Claims claims, boolean batching) throws IOException {
        return new OverlayBinding(address, routes, claims, batching);
    }

    private OverlaySocket openSocket(InetSocketAddress address, boolean batching) throws IOException {
        if (batching && EpollOverlaySocket.available()) {
            EpollOverlaySocket epoll = EpollOverlaySocket.bind(address, this::claimed, true);
            LOG.info("the overlay's UDP socket {} sends bursts {} and receives them {}", epoll.localAddress(),
                    epoll.gso() ? "as one datagram each (UDP GSO)" : "in one system call each (sendmmsg)",
                    epoll.gro() ? "joined by the kernel (UDP GRO)" : "datagram by datagram");
            return epoll;
        }
        if (batching) {
            LOG.info("the overlay's UDP socket sends and receives datagram by datagram: epoll is not available ({})",
                    EpollOverlaySocket.unavailability());
        }
        DatagramChannel channel = DatagramChannel.open().bind(address);
        try {
            return new JdkOverlaySocket(channel, this::claimed);
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
    }

    /** The socket under this binding (for tests). */
    OverlaySocket socket() {
        return socket;
    }

    /** Replaces the routes (for tests that move a peer between paths). */
    public void setRoutes(Routes routes) {
        this.routes = routes;
    }

    @Override
    public InetSocketAddress localAddress() {
        return socket.localAddress();
    }

    /** Whether the binding is still open. */
    boolean isOpen() {
        return !closed;
    }

    @Override
    public void start(Arrivals arrivals) {
        this.arrivals = arrivals;
    }

    /** A message another path carried (a relay session, TURN, MASQUE): to the engine, routed by its index. */
    public void deliver(ByteBuffer message) {
        Arrivals a = arrivals;
        if (a != null && !closed) {
            a.arrived(message);
        }
    }

    /** One message of a burst (see {@link Arrivals#arrivedInBurst}); {@link #burstEnd} follows on this thread. */
    public void deliverInBurst(ByteBuffer message) {
        Arrivals a = arrivals;
        if (a != null && !closed) {
            a.arrivedInBurst(message);
        }
    }

    /** The burst this thread delivered is complete. Also when closed meanwhile: what the engine holds is let go. */
    public void burstEnd() {
        Arrivals a = arrivals;
        if (a != null) {
            a.burstEnd();
        }
    }

    @Override
    public Sent send(NodeKey peer, InetSocketAddress endpoint, ByteBuffer message) {
        if (closed) {
            return Sent.FAILED;
        }
        if (peer != null) {
            Sent routed = routes.send(peer, message);
            if (routed != null) {
                return routed;
            }
        }
        if (endpoint == null) {
            return Sent.NO_ENDPOINT;
        }
        int taken = sendDatagrams(new ByteBuffer[] {message}, 0, 1, endpoint);
        return taken == 1 ? Sent.SENT : taken < 0 ? Sent.FAILED : Sent.BUFFER_FULL;
    }

    /**
     * A burst to one peer: by its route one by one when it has one (the route decides per message:
     * the relay's queue, a direct path), else to its endpoint over the socket in one go.
     */
    @Override
    public void send(NodeKey peer, InetSocketAddress endpoint, ByteBuffer[] messages, int from, int count, Sent[] outcomes) {
        if (closed || count == 0) {
            java.util.Arrays.fill(outcomes, from, from + count, Sent.FAILED);
            return;
        }
        if (peer != null) {
            Sent routed = routes.send(peer, messages[from]);
            if (routed != null) {
                outcomes[from] = routed;
                for (int i = from + 1; i < from + count; i++) {
                    outcomes[i] = send(peer, endpoint, messages[i]);
                }
                return;
            }
        }
        if (endpoint == null) {
            java.util.Arrays.fill(outcomes, from, from + count, Sent.NO_ENDPOINT);
            return;
        }
        int taken = sendDatagrams(messages, from, count, endpoint);
        int at = from;
        for (; at < from + taken; at++) {
            outcomes[at] = Sent.SENT;
        }
        java.util.Arrays.fill(outcomes, at, from + count, taken < 0 ? Sent.FAILED : Sent.BUFFER_FULL);
    }

    /** Sends a datagram that is not WireGuard's (a STUN answer) from this socket's 5-tuple; false when it could not go. */
    public boolean sendRaw(InetSocketAddress to, ByteBuffer datagram) {
        return sendDatagrams(new ByteBuffer[] {datagram}, 0, 1, to) == 1;
    }

    /** How many the socket took; -1 when it refused (closed, the network unreachable). */
    private int sendDatagrams(ByteBuffer[] datagrams, int from, int count, InetSocketAddress to) {
        try {
            return socket.send(datagrams, from, count, to);
        } catch (IOException e) {
            return -1; // closed (the interface is being re-created), or the network is unreachable
        }
    }

    @Override
    public int receive(DatagramBatch batch) throws IOException {
        return socket.receive(batch);
    }

    /** Whether a datagram may be WireGuard's (see {@link OverlaySocket#wireGuardShaped}). */
    static boolean wireGuardShaped(ByteBuffer datagram) {
        return OverlaySocket.wireGuardShaped(datagram);
    }

    private boolean claimed(InetSocketAddress from, ByteBuffer datagram) {
        try {
            return claims.claim(from, datagram.asReadOnlyBuffer());
        } catch (RuntimeException e) {
            // Hole punching's bug must not end the overlay's receive thread.
            LOG.warn("a claim on the overlay's datagrams failed on one from {}: {}", from, e.toString());
            return true;
        }
    }

    @Override
    public void close() {
        closed = true;
        arrivals = null;
        routes = NO_ROUTES;
        socket.close();
    }
}
