package io.cloudbridge.transport.quic.internal;

import static io.cloudbridge.transport.quic.internal.RelaySessionKit.linesOut;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.transport.quic.internal.RelaySessionKit.Close;
import io.cloudbridge.transport.quic.internal.RelaySessionKit.RecordingClose;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.LongAdder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The node's control lines, through the control stream's real pipeline (line decoder, text,
 * {@link ControlLineHandler}) on an EmbeddedChannel: what is answered, what is handed to the
 * sign-in, and what is refused (ERR, the policy close, counted refused and malformed).
 */
class ControlLineHandlerTest {
    private final ControlStream control = new ControlStream();
    private final RecordingClose connection = new RecordingClose();
    private final LongAdder refused = new LongAdder();
    private final LongAdder malformed = new LongAdder();
    private final List<String> tokens = new ArrayList<>();
    private final EmbeddedChannel stream = new EmbeddedChannel(control.streamHandler(
            new ControlLineHandler(tokens::add, new SessionCloser(control, connection, refused), malformed)));

    @AfterEach
    void noneLeft() {
        stream.finishAndReleaseAll();
    }

    private ByteBuf write(String bytes) {
        return write(bytes.getBytes(StandardCharsets.UTF_8));
    }

    private ByteBuf write(byte[] bytes) {
        ByteBuf in = Unpooled.wrappedBuffer(bytes);
        stream.writeInbound(in);
        return in;
    }

    private void assertRefusedAsMalformed(String reason) {
        assertEquals(List.of("ERR " + reason), linesOut(stream));
        assertEquals(List.of(new Close(QuicWire.POLICY_CLOSE, reason)), connection.closes);
        assertEquals(1, malformed.sum(), "counted malformed");
        assertEquals(1, refused.sum(), "counted refused");
    }

    @Test
    void pingIsAnsweredPong() {
        ByteBuf in = write("PING\n");
        assertEquals(List.of("PONG"), linesOut(stream));
        assertEquals(0, in.refCnt(), "the line's buffer released");
        // A line may come in pieces, and end in CR LF.
        write("PI");
        assertEquals(List.of(), linesOut(stream));
        write("NG\r\n");
        assertEquals(List.of("PONG"), linesOut(stream));
        assertTrue(connection.closes.isEmpty());
        assertEquals(0, malformed.sum());
        assertEquals(0, refused.sum());
    }

    @Test
    void theFirstAuthHandsItsTokenToTheSignIn() {
        write("AUTH  node-token-1 \n");
        assertEquals(List.of("node-token-1"), tokens, "the token, trimmed");
        assertEquals(List.of(), linesOut(stream), "the sign-in answers, not the line handler");
        assertTrue(connection.closes.isEmpty());
        write("PING\n");
        assertEquals(List.of("PONG"), linesOut(stream), "a signing-in node still gets its PONG");
    }

    @Test
    void aSecondAuthIsRefusedAndCountedMalformed() {
        write("AUTH first\nAUTH second\n");
        assertEquals(List.of("first"), tokens, "one sign-in a session");
        assertRefusedAsMalformed("unexpected control message");
    }

    @Test
    void anUnexpectedLineIsRefusedAndCountedMalformed() {
        write("HELLO relay\n");
        assertRefusedAsMalformed("unexpected control message");
        assertTrue(tokens.isEmpty());
    }

    @Test
    void anAuthWithoutItsTokenIsNoKnownLine() {
        write("AUTH\n");
        assertRefusedAsMalformed("unexpected control message");
        assertTrue(tokens.isEmpty());
    }

    @Test
    void brokenUtf8IsReadAsNoKnownLineNotAnError() {
        write(new byte[] {'P', 'I', (byte) 0xff, 'N', 'G', '\n'});
        assertRefusedAsMalformed("unexpected control message");
    }

    @Test
    void aLineLongerThanTheLimitIsRefusedAsAMalformedStream() {
        byte[] tooLong = new byte[QuicWire.MAX_LINE + 1];
        Arrays.fill(tooLong, (byte) 'a');
        write(tooLong);
        assertRefusedAsMalformed("malformed control stream: TooLongFrameException");
    }

    @Test
    void aLineOfExactlyTheLimitIsStillALine() {
        byte[] line = new byte[QuicWire.MAX_LINE + 1];
        Arrays.fill(line, (byte) 'a');
        line[QuicWire.MAX_LINE] = '\n';
        write(line);
        // Read and judged as a line (of no known kind), not refused as too long.
        assertRefusedAsMalformed("unexpected control message");
    }
}
