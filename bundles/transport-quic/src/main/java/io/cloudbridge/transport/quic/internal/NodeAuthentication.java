package io.cloudbridge.transport.quic.internal;

import io.cloudbridge.boot.log.Correlation;
import io.cloudbridge.api.auth.CredentialRejectedException;
import io.cloudbridge.api.relay.AuthenticatedNode;
import io.cloudbridge.api.relay.CredentialRevocations;
import io.cloudbridge.api.relay.NodeSessionAuthenticator;
import io.cloudbridge.api.relay.PacketSwitch;
import io.cloudbridge.api.relay.SwitchPort;
import io.cloudbridge.transport.support.Outbox;
import io.netty.channel.Channel;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * Proves a session's node and makes it the node's port in the switch. Stages:
 * <ol>
 * <li>{@link #deadline}: a session with no port within {@code quic.authSeconds} is refused;
 * <li>{@link #begin}, on the connection's loop: the AUTH line's token goes to the relay's checks
 * executor (full: BUSY);
 * <li>on a checks thread, never the loop: the token's node (refused: ERR; the relay cannot check
 * now: BUSY), then the token bound to the relay's revocation signal;
 * <li>back on the loop: the node's port attached to the switch with its sink ({@link DatagramSink}),
 * {@code OK <size>} said, the datagram limit followed ({@link DatagramLimit});
 * <li>a revocation, whenever it comes, ends the session on the loop; no port is attached after it;
 * <li>{@link #ended}, once the connection closed: the binding, the port and the outbox let go.
 * </ol>
 */
final class NodeAuthentication {
    /** What the relay lends every session's sign-in. */
    record Services(NodeSessionAuthenticator authenticator, CredentialRevocations revocations, PacketSwitch packetSwitch,
            Executor checks) {
    }

    private final Channel connection;
    private final Services relay;
    private final SessionCloser closer;
    private final ControlStream control;
    private final DatagramLimit limit;
    private volatile SwitchPort port;
    private volatile Outbox outbox;
    /** The token bound to the relay's revocation signal; closed when the connection ends. */
    private volatile CredentialRevocations.Binding binding;
    /** Why the credential was revoked, once it was (on the connection's loop): no port is attached after. */
    private String revoked;

    NodeAuthentication(Channel connection, Services relay, SessionCloser closer, ControlStream control, DatagramLimit limit) {
        this.connection = connection;
        this.relay = relay;
        this.closer = closer;
        this.control = control;
        this.limit = limit;
    }

    /** The node's port once it signed in; null before. */
    SwitchPort port() {
        return port;
    }

    /** Refuses the session if it has no port {@code authSeconds} from now. */
    void deadline(int authSeconds) {
        connection.eventLoop().schedule(() -> {
            if (port == null && connection.isActive()) {
                closer.refuse("no AUTH within " + authSeconds + " s");
            }
        }, authSeconds, TimeUnit.SECONDS);
    }

    /**
     * On the loop: the node's AUTH line came, with its token and, from a node of
     * {@code cloudbridge/2}, the session attempt's id after it; the check runs off the loop, and
     * it, the attachment and their log lines under that id (a new {@code quic-} one without).
     */
    void begin(String argument) {
        int space = argument.indexOf(' ');
        String token = space < 0 ? argument : argument.substring(0, space);
        String flow = Correlation.accept(space < 0 ? null : argument.substring(space + 1).trim(), "quic");
        try (Correlation.Scope attempt = Correlation.open(flow)) {
            try {
                relay.checks().execute(Correlation.carry(() -> authenticate(token)));
            } catch (RejectedExecutionException busy) {
                closer.refuseForNow("too many sessions signing in");
            }
        }
    }

    /**
     * Off the loop: the token's node, then the token bound to the revocation signal before the
     * port is attached (so a removal that raced this check ends the session: either the binding
     * is refused, or the revocation finds it and arrives on the loop before or after the attach).
     */
    private void authenticate(String token) {
        AuthenticatedNode node;
        try {
            node = relay.authenticator().authenticate(token);
            binding = relay.revocations().bind(token, reason -> onLoop(() -> revoke(reason)));
        } catch (CredentialRejectedException e) {
            onLoop(() -> closer.refuse(e.getMessage()));
            return;
        } catch (RuntimeException e) {
            QuicRelayRoute.LOG.warn("authenticating a QUIC session failed: {}", e.toString());
            onLoop(() -> closer.refuseForNow("the relay cannot check tokens now"));
            return;
        }
        onLoop(() -> attach(node));
    }

    /**
     * Work for the connection's loop from the auth thread or the revocation signal. A loop that is
     * shutting down (the relay stopping, its listener refreshed) has closed the connection already:
     * nothing is attached, and the binding made meanwhile is let go here rather than never.
     */
    private void onLoop(Runnable task) {
        if (!io.cloudbridge.transport.support.ChannelLoops.runOn(connection, Correlation.carry(task))) {
            closeBinding();
        }
    }

    /** On the loop, after the binding: the port, unless the connection closed or the credential was revoked meanwhile. */
    private void attach(AuthenticatedNode node) {
        if (!connection.isActive() || revoked != null) {
            closeBinding(); // closed while the token was checked, or revoked since: no port
            return;
        }
        int max = limit.atSignIn();
        Outbox packets = new Outbox(connection, b -> b, max - QuicWire.KEY_LENGTH);
        outbox = packets;
        port = relay.packetSwitch().attach(node, "quic", new DatagramSink(packets, closer));
        control.send("OK " + max);
        limit.follow(packets);
    }

    /** On the loop: the session's credential was revoked or expired. */
    private void revoke(String reason) {
        revoked = reason;
        if (connection.isActive()) {
            SwitchPort p = port;
            QuicRelayRoute.SECURITY.info("QUIC relay session of {} ended: {}", p == null ? "a node" : "node " + p.node().nodeId(), reason);
            closer.close(reason);
        }
    }

    private void closeBinding() {
        CredentialRevocations.Binding b = binding;
        if (b != null) {
            b.close();
        }
    }

    /** The connection closed: the binding forgotten, the port detached, what waited in the outbox released. */
    void ended() {
        closeBinding();
        SwitchPort p = port;
        if (p != null) {
            p.close();
        }
        Outbox o = outbox;
        if (o != null) {
            o.discard();
        }
    }
}
