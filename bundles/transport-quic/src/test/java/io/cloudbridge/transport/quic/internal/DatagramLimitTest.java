package io.cloudbridge.transport.quic.internal;

import static io.cloudbridge.transport.quic.internal.RelaySessionKit.linesOut;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.cloudbridge.transport.support.Outbox;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.quic.QuicDatagramExtensionEvent;
import java.lang.reflect.Constructor;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The relay's datagrams to the node follow the path MTU and the node's frame limit: the outbox's
 * largest packet moves with them, and the node hears of each change of the path (one MTU line),
 * and of nothing else.
 */
class DatagramLimitTest {
    private final EmbeddedChannel connection = new EmbeddedChannel();
    private final ControlStream control = new ControlStream();
    private final EmbeddedChannel stream = new EmbeddedChannel(control.streamHandler(new ChannelInboundHandlerAdapter()));
    /** What the path stats say now, and how often they were read. */
    private long pathMtu = 1_472;
    private int reads;
    private final DatagramLimit limit = new DatagramLimit(connection, control, then -> {
        reads++;
        then.accept(pathMtu);
    });

    DatagramLimitTest() {
        connection.pipeline().addLast(limit);
        connection.freezeTime();
    }

    @AfterEach
    void noneLeft() {
        limit.ended();
        connection.finishAndReleaseAll();
        stream.finishAndReleaseAll();
    }

    /** The next scheduled look at the path (the session is settling: soon). */
    private void nextPoll() {
        connection.advanceTimeBy(PathMtu.SETTLE_POLL_MILLIS, TimeUnit.MILLISECONDS);
        connection.runScheduledPendingTasks();
    }

    private Outbox signIn() {
        Outbox outbox = new Outbox(connection, b -> b, limit.atSignIn() - QuicWire.KEY_LENGTH);
        limit.follow(outbox);
        return outbox;
    }

    /** QUIC's datagram event, whose constructor Netty keeps to itself; the handler gets the real class. */
    private static QuicDatagramExtensionEvent datagramEvent(int maxLength) throws Exception {
        Constructor<QuicDatagramExtensionEvent> event = QuicDatagramExtensionEvent.class.getDeclaredConstructor(int.class);
        event.setAccessible(true);
        return event.newInstance(maxLength);
    }

    @Test
    void aPathMtuChangeShrinksTheOutboxAndSaysMtuOnceAnUnchangedOneSaysNothing() {
        assertEquals(QuicWire.MAX_SEND_UDP_PAYLOAD - PathMtu.QUIC_DATAGRAM_OVERHEAD, limit.atSignIn(), "a 1,500-byte link's, with no frame limit");
        Outbox outbox = signIn();
        int first = PathMtu.datagramLimit(1_472);
        assertEquals(List.of("MTU " + first), linesOut(stream), "the first look tells the node");
        assertEquals(first - QuicWire.KEY_LENGTH, outbox.maxPacket());

        nextPoll();
        assertEquals(2, reads);
        assertEquals(List.of(), linesOut(stream), "an unchanged path says nothing");

        pathMtu = 1_300;
        nextPoll();
        int shrunk = PathMtu.datagramLimit(1_300);
        assertEquals(List.of("MTU " + shrunk), linesOut(stream));
        assertEquals(shrunk - QuicWire.KEY_LENGTH, outbox.maxPacket(), "the relay sends no datagram the path does not carry");

        nextPoll();
        assertEquals(List.of(), linesOut(stream), "one line a change");
        assertEquals(4, reads);
    }

    @Test
    void theNodesFrameLimitCapsTheStartAndThePath() throws Exception {
        connection.pipeline().fireUserEventTriggered(datagramEvent(1_200));
        assertEquals(1_200, limit.atSignIn(), "what the OK line says");
        Outbox outbox = signIn();
        assertEquals(List.of("MTU 1200"), linesOut(stream), "the path carries more than the node takes");
        assertEquals(1_200 - QuicWire.KEY_LENGTH, outbox.maxPacket());

        connection.pipeline().fireUserEventTriggered(datagramEvent(1_100));
        assertEquals(1_100 - QuicWire.KEY_LENGTH, outbox.maxPacket());
    }

    @Test
    void nothingIsReadBeforeSignInOrAfterTheEnd() {
        nextPoll();
        assertEquals(0, reads, "the path is followed from sign-in");
        signIn();
        assertEquals(1, reads);
        limit.ended();
        nextPoll();
        nextPoll();
        assertEquals(1, reads);
    }
}
