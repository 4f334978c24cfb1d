package io.cloudbridge.paths.internal;

import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.api.path.DatagramBatch;
import io.cloudbridge.api.path.PathBinding;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.DatagramChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The overlay's {@link PathBinding}: its UDP socket, shared with hole punching as RFC 7983 says
 * (datagrams that are not WireGuard's go to the {@link Claims}, and their answers leave from the
 * same 5-tuple), and per peer the route the paths choose, else the socket to the peer's endpoint.
 *
 * <p>Stages of a send: the peer's route ({@link Routes}: a direct path, the relay), if it has one;
 * else the socket to the endpoint, waiting briefly while its send buffer is full. Stages of a
 * receive: drain the socket into the batch, handing what is not WireGuard-shaped to the claims
 * first; wait on the selector while it is empty.
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
    /** A full socket send buffer is retried this many times, {@link #SEND_RETRY_NANOS} apart, before the datagram is dropped. */
    private static final int SEND_RETRIES = 200;
    private static final long SEND_RETRY_NANOS = 25_000;
    /** How long a receive waits for a datagram before it returns to let its caller look whether to stop. */
    private static final int POLL_MILLIS = 200;
    private static final int MAX_DATAGRAM = 65_535;

    private final DatagramChannel channel;
    private final Selector selector;
    /** The receive thread's buffer. */
    private final ByteBuffer receiveBuffer = ByteBuffer.allocateDirect(MAX_DATAGRAM);
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
        this.channel = channel;
        this.routes = routes;
        this.claims = claims;
        // Bursts arrive faster than one thread decrypts them: ask for deep socket buffers (the
        // kernel grants up to net.core.rmem_max / wmem_max).
        try {
            channel.setOption(java.net.StandardSocketOptions.SO_RCVBUF, 4 << 20);
            channel.setOption(java.net.StandardSocketOptions.SO_SNDBUF, 4 << 20);
        } catch (IOException | UnsupportedOperationException e) {
            LOG.debug("socket buffers left at their defaults: {}", e.toString());
        }
        channel.configureBlocking(false);
        selector = Selector.open();
        try {
            channel.register(selector, SelectionKey.OP_READ);
        } catch (IOException | RuntimeException e) {
            selector.close();
            throw e;
        }
    }

    /** Opens a socket bound to {@code address} (port 0: any free port). */
    static OverlayBinding bind(InetSocketAddress address, Routes routes, Claims claims) throws IOException {
        DatagramChannel channel = DatagramChannel.open().bind(address);
        try {
            return new OverlayBinding(channel, routes, claims);
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
    }

    /** Replaces the routes (for tests that move a peer between paths). */
    public void setRoutes(Routes routes) {
        this.routes = routes;
    }

    @Override
    public InetSocketAddress localAddress() {
        try {
            return (InetSocketAddress) channel.getLocalAddress();
        } catch (IOException e) {
            return null; // closed
        }
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
        try {
            return sendDatagram(message, endpoint) ? Sent.SENT : Sent.BUFFER_FULL;
        } catch (IOException e) {
            return Sent.FAILED;
        }
    }

    /** Sends a datagram that is not WireGuard's (a STUN answer) from this socket's 5-tuple; false when it could not go. */
    public boolean sendRaw(InetSocketAddress to, ByteBuffer datagram) {
        try {
            return sendDatagram(datagram, to);
        } catch (IOException e) {
            return false; // closed (the interface is being re-created), or the network is unreachable
        }
    }

    /**
     * Sends one datagram. The socket is non-blocking (the receive thread drains it in batches), so a
     * full send buffer returns at once: wait briefly for the kernel to drain it, as a blocking send
     * would, and give up after about 5 ms.
     */
    private boolean sendDatagram(ByteBuffer datagram, InetSocketAddress to) throws IOException {
        for (int attempt = 0;; attempt++) {
            if (channel.send(datagram, to) > 0) {
                return true;
            }
            if (attempt == SEND_RETRIES) {
                return false;
            }
            LockSupport.parkNanos(SEND_RETRY_NANOS);
        }
    }

    @Override
    public int receive(DatagramBatch batch) throws IOException {
        boolean any = false;
        try {
            while (!batch.isFull()) {
                receiveBuffer.clear();
                InetSocketAddress from = (InetSocketAddress) channel.receive(receiveBuffer);
                if (from == null) {
                    break;
                }
                any = true;
                receiveBuffer.flip();
                if (!wireGuardShaped(receiveBuffer) && claimed(from, receiveBuffer)) {
                    continue;
                }
                batch.add(receiveBuffer, from);
            }
            if (!any) {
                selector.select(POLL_MILLIS);
                selector.selectedKeys().clear();
            }
            return batch.count();
        } catch (ClosedChannelException | ClosedSelectorException closed) {
            return -1;
        }
    }

    /**
     * Whether a datagram may be WireGuard's: a message type of 1 to 4 and three reserved zero
     * bytes. STUN (first byte 0 or 1, with a method in the second) and TURN channel data (64-79)
     * never are, so they go to the claims (RFC 7983).
     */
    static boolean wireGuardShaped(ByteBuffer datagram) {
        int at = datagram.position();
        if (datagram.remaining() < 4) {
            return false;
        }
        int type = datagram.get(at) & 0xff;
        return type >= 1 && type <= 4 && datagram.get(at + 1) == 0 && datagram.get(at + 2) == 0 && datagram.get(at + 3) == 0;
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
        try {
            channel.close();
        } catch (IOException e) {
            LOG.debug("closing the overlay's socket: {}", e.toString());
        }
        try {
            selector.close(); // completes the channel's close, which waits for its deregistration
        } catch (IOException e) {
            LOG.debug("closing the overlay's selector: {}", e.toString());
        }
    }
}
