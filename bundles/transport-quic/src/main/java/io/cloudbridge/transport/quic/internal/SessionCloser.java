package io.cloudbridge.transport.quic.internal;

import java.util.concurrent.atomic.LongAdder;

/**
 * Ends a session for a reason. Each way says why on the control stream when it is open, then
 * closes the connection with the application error the node acts on:
 * <ol>
 * <li>refused ({@link #refuse}): {@code ERR <reason>}, then {@link QuicWire#POLICY_CLOSE}: the
 * node does not dial again;
 * <li>refused for now ({@link #refuseForNow}): {@code BUSY <seconds> <reason>}, then
 * {@link QuicWire#BUSY_CLOSE}: the node dials again after that many seconds;
 * <li>ended for a reason of policy with nothing to add ({@link #close}: revoked, replaced):
 * {@link QuicWire#POLICY_CLOSE} alone;
 * <li>the transport being removed ({@link #goAway}, {@link #removed}): {@code GOAWAY}, and the
 * node closes the session itself once it has moved; or {@link QuicWire#GOING_AWAY}.
 * </ol>
 * Refusals are counted and go to the security log. All but {@link #close} run on the connection's
 * loop (they write on the control stream); {@link #close} also comes from the switch's threads, and
 * a QUIC connection's close hands itself to its loop.
 */
final class SessionCloser {
    /** What BUSY asks (the control plane cannot check tokens now, too many sign-ins at once). */
    static final int BUSY_RETRY_SECONDS = 2;

    private final ControlStream control;
    private final ConnectionClose connection;
    private final LongAdder refused;

    SessionCloser(ControlStream control, ConnectionClose connection, LongAdder refused) {
        this.control = control;
        this.connection = connection;
        this.refused = refused;
    }

    void refuse(String reason) {
        refused.increment();
        QuicRelayRoute.SECURITY.warn("QUIC relay session refused: {} (from {})", reason, connection.remoteAddress());
        control.send("ERR " + reason);
        close(reason);
    }

    /** Refused with nothing against the node: it is asked to come back in {@value #BUSY_RETRY_SECONDS} s. */
    void refuseForNow(String reason) {
        refused.increment();
        QuicRelayRoute.SECURITY.warn("QUIC relay session refused for now: {} (from {})", reason, connection.remoteAddress());
        String line = "BUSY " + BUSY_RETRY_SECONDS + " " + reason;
        control.send(line);
        // The close's phrase repeats the line: the close may overtake it.
        connection.close(QuicWire.BUSY_CLOSE, line);
    }

    /** Ends the session for a reason of policy the node was not refused for (revoked, replaced by a newer session). */
    void close(String reason) {
        connection.close(QuicWire.POLICY_CLOSE, reason);
    }

    /**
     * The transport is being removed: a node that signed in is told to move (GOAWAY) and keeps
     * forwarding here until it has, then closes the session; any other session is closed now.
     */
    void goAway(boolean signedIn) {
        if (!signedIn || !control.send("GOAWAY the relay's QUIC transport is being removed")) {
            removed();
        }
    }

    /** The transport is gone: the session is closed without waiting for the node. */
    void removed() {
        connection.close(QuicWire.GOING_AWAY, "transport removed");
    }
}
