package io.cloudbridge.paths.internal;

import io.cloudbridge.api.path.DatagramBatch;
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
 * The overlay's socket through the JDK: a non-blocking {@link DatagramChannel}, one datagram a
 * system call each way (the JDK has neither {@code recvmmsg}/{@code sendmmsg} nor UDP GSO/GRO).
 * Where the epoll socket cannot be had (not Linux, no native library) or is turned off.
 */
final class JdkOverlaySocket implements OverlaySocket {
    private static final Logger LOG = LoggerFactory.getLogger(JdkOverlaySocket.class);
    /** A full socket send buffer is retried this many times, {@link #SEND_RETRY_NANOS} apart, before the datagram is dropped. */
    private static final int SEND_RETRIES = 200;
    private static final long SEND_RETRY_NANOS = 25_000;
    /** How long a receive waits for a datagram before it returns to let its caller look whether to stop. */
    private static final int POLL_MILLIS = 200;
    private static final int MAX_DATAGRAM = 65_535;

    private final DatagramChannel channel;
    private final Selector selector;
    private final Others others;
    /** The receive thread's buffer. */
    private final ByteBuffer receiveBuffer = ByteBuffer.allocateDirect(MAX_DATAGRAM);

    /** Takes over a bound channel: deep buffers, non-blocking from now on. */
    JdkOverlaySocket(DatagramChannel channel, Others others) throws IOException {
        this.channel = channel;
        this.others = others;
        // Bursts arrive faster than one thread decrypts them: ask for deep socket buffers (the
        // kernel grants up to net.core.rmem_max / wmem_max).
        try {
            channel.setOption(java.net.StandardSocketOptions.SO_RCVBUF, EpollOverlaySocket.BUFFER_BYTES);
            channel.setOption(java.net.StandardSocketOptions.SO_SNDBUF, EpollOverlaySocket.BUFFER_BYTES);
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

    @Override
    public InetSocketAddress localAddress() {
        try {
            return (InetSocketAddress) channel.getLocalAddress();
        } catch (IOException e) {
            return null; // closed
        }
    }

    @Override
    public int send(ByteBuffer[] datagrams, int from, int count, InetSocketAddress to) throws IOException {
        for (int i = from; i < from + count; i++) {
            try {
                if (!sendOne(datagrams[i], to)) {
                    return i - from;
                }
            } catch (IOException e) {
                if (i == from) {
                    throw e;
                }
                return i - from; // those sent are sent; the rest is refused (the next call says why)
            }
        }
        return count;
    }

    /**
     * The socket is non-blocking (the receive thread drains it in batches), so a full send buffer
     * returns at once: wait briefly for the kernel to drain it, as a blocking send would, and give
     * up after about 5 ms.
     */
    private boolean sendOne(ByteBuffer datagram, InetSocketAddress to) throws IOException {
        int at = datagram.position();
        for (int attempt = 0;; attempt++) {
            if (channel.send(datagram, to) > 0) {
                datagram.position(at); // (the caller's buffer, as it was)
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
                if (!OverlaySocket.wireGuardShaped(receiveBuffer) && others.claim(from, receiveBuffer)) {
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

    @Override
    public void close() {
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
