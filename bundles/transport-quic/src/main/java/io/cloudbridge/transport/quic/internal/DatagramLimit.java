package io.cloudbridge.transport.quic.internal;

import io.cloudbridge.transport.support.Outbox;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.quic.QuicDatagramExtensionEvent;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Keeps the relay's datagrams to the node within what the node takes and the path carries, on the
 * connection's pipeline. Stages:
 * <ol>
 * <li>the node's largest DATAGRAM frame (QUIC's datagram event) sets the size the session starts
 * with ({@link #atSignIn()}, the OK line's) and caps the outbox;
 * <li>once the node has signed in ({@link #follow}), the path MTU the relay's side of the
 * connection discovered is read: every {@link PathMtu#SETTLE_POLL_MILLIS} while the node's session
 * settles (its discovery and ours run together), then every {@link QuicSession#PATH_CHECK_MILLIS};
 * <li>each change caps the outbox at what a DATAGRAM frame holds on that path and is told to the
 * node ({@code MTU <size>}), whose overlay MTU then fits both directions; an unchanged path says
 * nothing;
 * <li>{@link #ended} stops the reading.
 * </ol>
 * Everything runs on the connection's loop.
 */
final class DatagramLimit extends ChannelInboundHandlerAdapter {
    private final Channel connection;
    private final ControlStream control;
    private final PathMtuReader path;
    private volatile int peerMaxDatagram = 0;
    private volatile Outbox outbox;
    private volatile ScheduledFuture<?> pathChecks;
    private long pathMtu = -1;
    private long attachedNanos;

    DatagramLimit(Channel connection, ControlStream control, PathMtuReader path) {
        this.connection = connection;
        this.control = control;
        this.path = path;
    }

    /** The largest datagram the relay takes and sends at sign-in: the node's frame limit, or what a 1,500-byte link carries. */
    int atSignIn() {
        return peerMaxDatagram > 0 ? peerMaxDatagram : QuicWire.MAX_SEND_UDP_PAYLOAD - PathMtu.QUIC_DATAGRAM_OVERHEAD;
    }

    /** The node signed in and {@code packets} carries the switch's packets to it: their size follows the path from now. */
    void follow(Outbox packets) {
        outbox = packets;
        attachedNanos = System.nanoTime();
        checkPath();
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
        path.read(pmtu -> {
            if (pmtu == pathMtu) {
                return;
            }
            pathMtu = pmtu;
            int limit = Math.min(peerMaxDatagram > 0 ? peerMaxDatagram : Integer.MAX_VALUE, PathMtu.datagramLimit(pmtu));
            Outbox o = outbox;
            if (o != null) {
                o.maxPacket(limit - QuicWire.KEY_LENGTH);
            }
            control.send("MTU " + limit);
        });
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

    /** The connection closed: no more reading of its path. */
    void ended() {
        ScheduledFuture<?> checks = pathChecks;
        if (checks != null) {
            checks.cancel(false);
        }
    }
}
