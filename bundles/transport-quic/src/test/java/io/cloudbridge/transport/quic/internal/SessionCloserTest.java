package io.cloudbridge.transport.quic.internal;

import static io.cloudbridge.transport.quic.internal.RelaySessionKit.linesOut;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.cloudbridge.transport.quic.internal.RelaySessionKit.Close;
import io.cloudbridge.transport.quic.internal.RelaySessionKit.RecordingClose;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.atomic.LongAdder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Each way a session ends: the line the node reads first, then the close code and phrase it acts on. */
class SessionCloserTest {
    private final ControlStream control = new ControlStream();
    private final RecordingClose connection = new RecordingClose();
    private final LongAdder refused = new LongAdder();
    private final SessionCloser closer = new SessionCloser(control, connection, refused);
    private EmbeddedChannel stream;

    private void openControlStream() {
        stream = new EmbeddedChannel(control.streamHandler(new ChannelInboundHandlerAdapter()));
    }

    @AfterEach
    void noneLeft() {
        if (stream != null) {
            stream.finishAndReleaseAll();
        }
    }

    @Test
    void aRefusalSaysErrThenClosesForPolicyAndIsCounted() {
        openControlStream();
        closer.refuse("token expired");
        assertEquals(List.of("ERR token expired"), linesOut(stream));
        assertEquals(List.of(new Close(QuicWire.POLICY_CLOSE, "token expired")), connection.closes);
        assertEquals(1, refused.sum());
    }

    @Test
    void aRefusalForNowSaysBusyAndItsCloseRepeatsTheLine() {
        openControlStream();
        closer.refuseForNow("the relay cannot check tokens now");
        String line = "BUSY " + SessionCloser.BUSY_RETRY_SECONDS + " the relay cannot check tokens now";
        assertEquals(List.of(line), linesOut(stream));
        assertEquals(List.of(new Close(QuicWire.BUSY_CLOSE, line)), connection.closes, "the close may overtake the line");
        assertEquals(1, refused.sum());
        assertEquals(ControlLine.Kind.BUSY, ControlLine.fromRelay(line).kind(), "a node reads it as BUSY");
    }

    @Test
    void withoutAControlStreamARefusalStillCloses() {
        closer.refuse("no AUTH within 10 s");
        assertEquals(List.of(new Close(QuicWire.POLICY_CLOSE, "no AUTH within 10 s")), connection.closes);
        assertEquals(1, refused.sum());
    }

    @Test
    void aPolicyCloseSaysNothingAndIsNoRefusal() {
        openControlStream();
        closer.close("replaced by a newer session of the same node (quic)");
        assertEquals(List.of(), linesOut(stream));
        assertEquals(List.of(new Close(QuicWire.POLICY_CLOSE, "replaced by a newer session of the same node (quic)")), connection.closes);
        assertEquals(0, refused.sum());
    }

    @Test
    void aSignedInNodeIsToldToMoveAndClosesItself() {
        openControlStream();
        closer.goAway(true);
        assertEquals(List.of("GOAWAY the relay's QUIC transport is being removed"), linesOut(stream));
        assertEquals(List.of(), connection.closes, "the node closes once it has moved");
    }

    @Test
    void aSessionNotSignedInOrWithoutItsStreamIsClosedAtOnce() {
        openControlStream();
        closer.goAway(false);
        assertEquals(List.of(), linesOut(stream));
        stream.close();
        closer.goAway(true);
        Close removed = new Close(QuicWire.GOING_AWAY, "transport removed");
        assertEquals(List.of(removed, removed), connection.closes);
        closer.removed();
        assertEquals(3, connection.closes.size());
        assertEquals(0, refused.sum());
    }

    @Test
    void aClosesPhraseIsCutToWhatOnePacketTakes() {
        ByteBuf shortPhrase = ConnectionClose.phrase("node removed");
        assertEquals("node removed", shortPhrase.toString(StandardCharsets.UTF_8));
        ByteBuf longPhrase = ConnectionClose.phrase("x".repeat(300));
        assertEquals(ConnectionClose.MAX_PHRASE, longPhrase.readableBytes());
        shortPhrase.release();
        longPhrase.release();
    }
}
