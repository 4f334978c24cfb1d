package io.cloudbridge.api.path;

import io.cloudbridge.api.net.NodeKey;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import org.osgi.annotation.versioning.ConsumerType;
import org.osgi.annotation.versioning.ProviderType;

/**
 * Everything a WireGuard engine knows of how its messages travel. The engine sends each sealed
 * message for a peer through {@link #send}, pulls the datagrams of the UDP socket in batches with
 * {@link #receive} on its receive thread, and takes what other paths carried (relay sessions,
 * TURN, MASQUE) through the {@link Arrivals} it gives {@link #start}.
 */
@ProviderType
public interface PathBinding extends AutoCloseable {

    /** What became of a message handed to {@link #send}; the engine counts each refusal by its reason. */
    enum Sent {
        SENT("sent"),
        /** No path to the peer and no endpoint to try. */
        NO_ENDPOINT("no endpoint"),
        /** The path chosen for the peer refused it (its session is down, its queue full). */
        PATH_REFUSED("path refused"),
        /** The UDP socket's send buffer stayed full. */
        BUFFER_FULL("send buffer full"),
        /** The socket refused it (a closed socket, an unreachable network). */
        FAILED("send failed"),
        /** The engine has no binding to the paths now (their bundle is being replaced, or absent). */
        NO_PATHS("no paths");

        private final String reason;

        Sent(String reason) {
            this.reason = reason;
        }

        /** The drop counter's name for it. */
        public String reason() {
            return reason;
        }
    }

    /** Where the messages that did not come through the UDP socket go. */
    @ConsumerType
    interface Arrivals {
        /**
         * A message a relay forwarded from {@code sender}, the node it authenticated. Any thread;
         * the buffer is the caller's again when this returns.
         */
        void relayed(NodeKey sender, ByteBuffer message);

        /** A message that came another way without a sender (a TURN allocation, a MASQUE tunnel): routed by its index. */
        void arrived(ByteBuffer message);

        /**
         * As {@link #arrived}, for a message of a burst: what it decrypts to may be held (joined with
         * the burst's other TCP segments for the TUN device) until {@link #burstEnd}, which the caller
         * makes on the same thread once the burst is delivered.
         */
        default void arrivedInBurst(ByteBuffer message) {
            arrived(message);
        }

        /** The burst this thread delivered with {@link #arrivedInBurst} is complete: deliver what is held. */
        default void burstEnd() {
        }
    }

    /** The UDP socket's local address (its port is what UAPI and wg:show report). */
    InetSocketAddress localAddress();

    /** Starts delivering to {@code arrivals}; called once, before the first {@link #receive}. */
    void start(Arrivals arrivals);

    /**
     * Sends one sealed message. With a {@code peer}, by the way the binding chooses for it (a
     * direct path, the relay, ...) or else to {@code endpoint} over the UDP socket; without one
     * (a cookie reply to an address under load), to {@code endpoint}. Never blocks for long; the
     * buffer is the caller's again when this returns.
     *
     * @param peer     the peer's key, or {@code null}
     * @param endpoint where the peer was configured or last heard from, or {@code null}
     */
    Sent send(NodeKey peer, InetSocketAddress endpoint, ByteBuffer message);

    /**
     * Sends {@code count} sealed messages to one peer, in order, as {@link #send} would each (a
     * burst of the peer's traffic: the segments of one TCP send, mostly), putting each one's
     * outcome at the same index of {@code outcomes}. This default sends them one by one; a binding
     * with a socket of its own may hand a burst to the kernel in one system call. The buffers are
     * the caller's again when this returns.
     */
    default void send(NodeKey peer, InetSocketAddress endpoint, ByteBuffer[] messages, int from, int count, Sent[] outcomes) {
        for (int i = from; i < from + count; i++) {
            outcomes[i] = send(peer, endpoint, messages[i]);
        }
    }

    /**
     * Waits a little (a few hundred milliseconds at most) for the UDP socket's datagrams and adds
     * those that may be WireGuard's to {@code batch}, up to its capacity; anything else (STUN, as
     * RFC 7983 tells them apart) goes wherever the binding sends it. One thread receives.
     *
     * @return the datagrams added, 0 when none came in time, or -1 once the binding is closed
     */
    int receive(DatagramBatch batch) throws IOException;

    /** Closes the socket; {@link #receive} returns -1 from then on. */
    @Override
    void close();
}
