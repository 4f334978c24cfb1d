package io.cloudbridge.transport.quic.internal;

import static io.cloudbridge.transport.quic.internal.RelaySessionKit.key;
import static io.cloudbridge.transport.quic.internal.RelaySessionKit.linesOut;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.api.auth.CredentialRejectedException;
import io.cloudbridge.api.relay.AuthenticatedNode;
import io.cloudbridge.api.relay.CredentialCheckUnavailableException;
import io.cloudbridge.api.relay.CredentialRevocations;
import io.cloudbridge.api.relay.NodeSessionAuthenticator;
import io.cloudbridge.transport.quic.internal.RelaySessionKit.Close;
import io.cloudbridge.transport.quic.internal.RelaySessionKit.OnePortSwitch;
import io.cloudbridge.transport.quic.internal.RelaySessionKit.RecordingClose;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A node's sign-in, from its AUTH line on the control stream to its port in the switch: the token
 * checked on a thread of the checks executor (held here until the test runs it), everything else
 * on the connection's loop (an EmbeddedChannel's, run when the test says), so that each ordering
 * of check, revocation, close and attach can be played out.
 */
class NodeAuthenticationTest {
    private static final AuthenticatedNode NODE = new AuthenticatedNode("node-1", "tenant-a", key(1));
    private static final String CHECKS_THREAD = "relay-quic-auth-test";

    private final EmbeddedChannel connection = new EmbeddedChannel();
    private final ControlStream control = new ControlStream();
    private final RecordingClose close = new RecordingClose();
    private final LongAdder refused = new LongAdder();
    private final SessionCloser closer = new SessionCloser(control, close, refused);
    private final DatagramLimit limit = new DatagramLimit(connection, control, then -> then.accept(QuicWire.MAX_SEND_UDP_PAYLOAD));
    private final OnePortSwitch packetSwitch = new OnePortSwitch();
    private final Revocations revocations = new Revocations();
    /** Checks waiting for a thread; the executor's behaviour, the tokens', and where the last check ran. */
    private final List<Runnable> heldChecks = new ArrayList<>();
    private Executor checks = heldChecks::add;
    private NodeSessionAuthenticator tokens = token -> {
        if (token.equals("good")) {
            return NODE;
        }
        throw new CredentialRejectedException("unknown token");
    };
    private String checkedOn;
    private final NodeAuthentication auth = new NodeAuthentication(connection, new NodeAuthentication.Services(token -> {
        checkedOn = Thread.currentThread().getName();
        return tokens.authenticate(token);
    }, revocations, packetSwitch, command -> checks.execute(command)), closer, control, limit);
    private final EmbeddedChannel stream = new EmbeddedChannel(control.streamHandler(new ControlLineHandler(auth::begin, closer, new LongAdder())));

    /** The relay's revocation signal: remembers the session bound, and can revoke while binding (the race). */
    static final class Revocations implements CredentialRevocations {
        CredentialRevocations.Revocable session;
        Binding binding;
        String revokeWhileBinding;
        CredentialRejectedException refuse;

        @Override
        public CredentialRevocations.Binding bind(String token, Revocable revocable) throws CredentialRejectedException {
            if (refuse != null) {
                throw refuse;
            }
            session = revocable;
            binding = new Binding();
            if (revokeWhileBinding != null) {
                revocable.revoked(revokeWhileBinding);
            }
            return binding;
        }

        static final class Binding implements CredentialRevocations.Binding {
            boolean closed;

            @Override
            public Instant expires() {
                return Instant.MAX;
            }

            @Override
            public void close() {
                closed = true;
            }
        }
    }

    @AfterEach
    void noneLeft() {
        limit.ended();
        stream.finishAndReleaseAll();
        connection.finishAndReleaseAll();
    }

    private void auth(String token) {
        stream.writeInbound(Unpooled.copiedBuffer("AUTH " + token + "\n", StandardCharsets.UTF_8));
    }

    /** Runs the held checks on a thread of their own, as the checks executor would, and waits for them. */
    private void runChecks() throws InterruptedException {
        List<Runnable> now = new ArrayList<>(heldChecks);
        heldChecks.clear();
        for (Runnable check : now) {
            Thread t = new Thread(check, CHECKS_THREAD);
            t.start();
            t.join();
        }
    }

    @Test
    void aGoodTokenIsCheckedOffTheLoopAndItsPortAttachedOnIt() throws Exception {
        auth("good");
        assertEquals(1, heldChecks.size(), "handed to the checks executor");
        assertNull(checkedOn, "not checked on the connection's loop");

        runChecks();
        assertEquals(CHECKS_THREAD, checkedOn);
        assertNull(packetSwitch.port, "attached on the connection's loop, not the checks thread");
        assertNull(auth.port());

        connection.runPendingTasks();
        assertEquals(NODE, packetSwitch.port.node());
        assertEquals("quic", packetSwitch.transport);
        assertSame(packetSwitch.port, auth.port());
        int max = QuicWire.MAX_SEND_UDP_PAYLOAD - PathMtu.QUIC_DATAGRAM_OVERHEAD;
        assertEquals(List.of("OK " + max, "MTU " + PathMtu.datagramLimit(QuicWire.MAX_SEND_UDP_PAYLOAD)), linesOut(stream),
                "OK, then the path followed");
        assertFalse(revocations.binding.closed);
        assertTrue(close.closes.isEmpty());

        // The port's sink writes the switch's packets on this connection.
        assertTrue(packetSwitch.sink.deliver(key(2), ByteBuffer.wrap(new byte[] {1, 2, 3})));
        connection.runPendingTasks();
        ByteBuf datagram = connection.readOutbound();
        assertEquals(QuicWire.KEY_LENGTH + 3, datagram.readableBytes());
        datagram.release();

        auth.ended();
        assertTrue(revocations.binding.closed, "the binding forgotten");
        assertTrue(packetSwitch.port.closed, "the port detached");
    }

    @Test
    void aTokenRefusedIsAnsweredErrAndClosedForPolicy() throws Exception {
        auth("stolen");
        runChecks();
        connection.runPendingTasks();
        assertEquals(List.of("ERR unknown token"), linesOut(stream));
        assertEquals(List.of(new Close(QuicWire.POLICY_CLOSE, "unknown token")), close.closes);
        assertEquals(1, refused.sum());
        assertNull(packetSwitch.port);
        assertNull(revocations.session, "a token refused is not bound");
    }

    @Test
    void aBindingRefusedIsARefusalToo() throws Exception {
        revocations.refuse = new CredentialRejectedException("node removed");
        auth("good");
        runChecks();
        connection.runPendingTasks();
        assertEquals(List.of("ERR node removed"), linesOut(stream));
        assertEquals(List.of(new Close(QuicWire.POLICY_CLOSE, "node removed")), close.closes);
        assertNull(packetSwitch.port);
    }

    @Test
    void aRelayThatCannotCheckAsksTheNodeBack() throws Exception {
        tokens = token -> {
            throw new CredentialCheckUnavailableException("database unavailable", null);
        };
        auth("good");
        runChecks();
        connection.runPendingTasks();
        String busy = "BUSY " + SessionCloser.BUSY_RETRY_SECONDS + " the relay cannot check tokens now";
        assertEquals(List.of(busy), linesOut(stream));
        assertEquals(List.of(new Close(QuicWire.BUSY_CLOSE, busy)), close.closes);
        assertEquals(1, refused.sum());
    }

    @Test
    void aFullChecksQueueAsksTheNodeBack() {
        checks = command -> {
            throw new RejectedExecutionException("queue full");
        };
        auth("good");
        String busy = "BUSY " + SessionCloser.BUSY_RETRY_SECONDS + " too many sessions signing in";
        assertEquals(List.of(busy), linesOut(stream));
        assertEquals(List.of(new Close(QuicWire.BUSY_CLOSE, busy)), close.closes);
    }

    /** The node removed while its token was checked: the revocation reaches the loop before the attach, which then attaches nothing. */
    @Test
    void aRemovalThatRacedTheCheckEndsTheSessionWithoutAPort() throws Exception {
        revocations.revokeWhileBinding = "node removed";
        auth("good");
        runChecks();
        connection.runPendingTasks();
        assertNull(packetSwitch.port, "no port after a revocation");
        assertNull(auth.port());
        assertTrue(revocations.binding.closed, "the binding let go");
        assertEquals(List.of(new Close(QuicWire.POLICY_CLOSE, "node removed")), close.closes);
        assertEquals(List.of(), linesOut(stream), "no OK");
    }

    @Test
    void aRevocationAfterTheAttachEndsTheSession() throws Exception {
        auth("good");
        runChecks();
        connection.runPendingTasks();
        linesOut(stream);
        revocations.session.revoked("token expired");
        assertTrue(close.closes.isEmpty(), "ended on the connection's loop, not the revoking thread");
        connection.runPendingTasks();
        assertEquals(List.of(new Close(QuicWire.POLICY_CLOSE, "token expired")), close.closes);
        assertEquals(0, refused.sum(), "an end, not a refusal");
    }

    @Test
    void aConnectionClosedWhileTheTokenWasCheckedGetsNoPort() throws Exception {
        auth("good");
        connection.close();
        runChecks();
        connection.runPendingTasks();
        assertNull(packetSwitch.port);
        assertTrue(revocations.binding.closed);
    }

    @Test
    void noAuthWithinTheDeadlineIsRefused() {
        connection.freezeTime();
        auth.deadline(10);
        connection.advanceTimeBy(9, TimeUnit.SECONDS);
        connection.runScheduledPendingTasks();
        assertTrue(close.closes.isEmpty());
        connection.advanceTimeBy(1, TimeUnit.SECONDS);
        connection.runScheduledPendingTasks();
        assertEquals(List.of("ERR no AUTH within 10 s"), linesOut(stream));
        assertEquals(List.of(new Close(QuicWire.POLICY_CLOSE, "no AUTH within 10 s")), close.closes);
    }

    @Test
    void aNodeSignedInWithinTheDeadlineIsLeftAlone() throws Exception {
        connection.freezeTime();
        auth.deadline(10);
        auth("good");
        runChecks();
        connection.runPendingTasks();
        connection.advanceTimeBy(10, TimeUnit.SECONDS);
        connection.runScheduledPendingTasks();
        assertTrue(close.closes.isEmpty());
        assertEquals(0, refused.sum());
    }

    @Test
    void theEndReleasesWhatWasStillQueued() throws Exception {
        auth("good");
        runChecks();
        connection.runPendingTasks();
        assertTrue(packetSwitch.sink.deliver(key(2), ByteBuffer.wrap(new byte[] {1, 2, 3})));
        auth.ended();
        connection.runPendingTasks();
        assertNull(connection.readOutbound(), "discarded, not written");
    }
}
