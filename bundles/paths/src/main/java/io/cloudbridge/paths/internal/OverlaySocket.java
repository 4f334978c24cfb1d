package io.cloudbridge.paths.internal;

import io.cloudbridge.api.path.DatagramBatch;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;

/**
 * The overlay's UDP socket under its {@link OverlayBinding}: the JDK's ({@link JdkOverlaySocket},
 * a datagram a system call, everywhere) or one through Linux's epoll ({@link EpollOverlaySocket},
 * bursts a system call).
 */
interface OverlaySocket extends AutoCloseable {

    /** Where datagrams that are not WireGuard's go (hole punching's STUN, RFC 7983). */
    interface Others {
        /** Whether the datagram was taken; the buffer is valid during the call only. */
        boolean claim(InetSocketAddress from, ByteBuffer datagram);
    }

    InetSocketAddress localAddress();

    /**
     * Sends {@code datagrams[from, from + count)} to {@code to}, in order, waiting a few
     * milliseconds at most for room in the socket's send buffer; the buffers are the caller's again
     * when this returns.
     *
     * @return how many were taken (the rest found no room)
     */
    int send(ByteBuffer[] datagrams, int from, int count, InetSocketAddress to) throws IOException;

    /**
     * Waits a little for datagrams and adds those that may be WireGuard's to the batch; the others
     * go to the {@link Others} first.
     *
     * @return the datagrams added, or -1 once the socket is closed
     */
    int receive(DatagramBatch batch) throws IOException;

    @Override
    void close();

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
}
