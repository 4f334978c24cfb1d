package io.cloudbridge.masque.internal;

import io.netty.handler.codec.quic.QuicChannel;
import io.netty.handler.codec.quic.QuicConnectionPathStats;
import java.util.concurrent.TimeUnit;

/**
 * The largest QUIC DATAGRAM frame payload a connection's path carries now. QUIC's datagram event
 * tells it once, at the handshake, before path MTU discovery has raised the packet size past its
 * first 1,200 bytes; a 1,200-byte UDP payload in an HTTP Datagram needs more. So the path's MTU
 * is read each second and the packet overhead taken off. Sending a datagram over the limit would
 * fail; over it, payloads go in DATAGRAM capsules.
 */
final class PathDatagramLimit {
    /** Short header with a 20-byte connection id and 4-byte packet number, AEAD tag, DATAGRAM frame type and length. */
    static final int QUIC_DATAGRAM_OVERHEAD = 1 + 20 + 4 + 16 + 1 + 8;

    /** A DATAGRAM frame every QUIC path carries: a 1,200-byte packet less the short header, AEAD tag and frame header. */
    static final int SAFE_DATAGRAM = 1_150;

    private volatile int limit;

    private PathDatagramLimit(int initial) {
        this.limit = initial;
    }

    /**
     * Starts following {@code connection}'s path, from {@code atHandshake} (QUIC's datagram event,
     * null when it was missed: what any path carries) and never above the peer's
     * max_datagram_frame_size.
     */
    static PathDatagramLimit follow(QuicChannel connection, Integer atHandshake) {
        PathDatagramLimit path = new PathDatagramLimit(atHandshake == null ? SAFE_DATAGRAM : atHandshake);
        long ceiling = connection.peerTransportParameters() == null ? 0 : connection.peerTransportParameters().maxDatagramFrameSize();
        path.follow(connection, (int) Math.min(ceiling > 0 ? ceiling : 65_535, 65_535));
        return path;
    }

    int get() {
        return limit;
    }

    /** Follows the connection's path MTU, never above {@code ceiling} (what the peer takes), until it closes. */
    private void follow(QuicChannel connection, int ceiling) {
        io.netty.util.concurrent.ScheduledFuture<?> polling = connection.eventLoop().scheduleAtFixedRate(() -> {
            if (!connection.isActive()) {
                return;
            }
            connection.collectPathStats(0).addListener(f -> {
                if (f.isSuccess()) {
                    long pmtu = ((QuicConnectionPathStats) f.getNow()).pmtu();
                    if (pmtu > QUIC_DATAGRAM_OVERHEAD) {
                        limit = (int) Math.min(ceiling, pmtu - QUIC_DATAGRAM_OVERHEAD);
                    }
                }
            });
        }, 0, 1, TimeUnit.SECONDS);
        connection.closeFuture().addListener(f -> {
            polling.cancel(false);
            limit = 0;
        });
    }
}
