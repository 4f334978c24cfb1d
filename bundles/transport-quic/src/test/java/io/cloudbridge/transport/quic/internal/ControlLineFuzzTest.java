package io.cloudbridge.transport.quic.internal;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.TooLongFrameException;
import java.nio.charset.StandardCharsets;
import java.util.function.Function;

/**
 * Fuzz targets for the QUIC transport's control stream, both directions: the bytes go through the
 * same line decoder the stream uses, then through the parser each side uses. A line too long is
 * refused with {@link TooLongFrameException} (the session ends); any other line parses to a kind,
 * with a datagram size that is absent or within bounds (a BUSY line: a wait of 1 to 60 s).
 */
class ControlLineFuzzTest {

    @FuzzTest
    void relayReads(byte[] data) {
        lines(data, ControlLine::fromNode);
    }

    @FuzzTest
    void nodeReads(byte[] data) {
        lines(data, ControlLine::fromRelay);
    }

    private static void lines(byte[] data, Function<String, ControlLine> parse) {
        EmbeddedChannel stream = new EmbeddedChannel(QuicWire.lineDecoder());
        try {
            // Split where the first byte says: a line may straddle the stream's reads.
            int cut = data.length == 0 ? 0 : (data[0] & 0xff) % data.length;
            stream.writeInbound(Unpooled.wrappedBuffer(data, 0, cut));
            stream.writeInbound(Unpooled.wrappedBuffer(data, cut, data.length - cut));
        } catch (DecoderException e) {
            assertTrue(e instanceof TooLongFrameException, e.toString());
        }
        ByteBuf frame;
        while ((frame = stream.readInbound()) != null) {
            try {
                assertTrue(frame.readableBytes() <= QuicWire.MAX_LINE);
                ControlLine line = parse.apply(frame.toString(StandardCharsets.UTF_8));
                assertNotNull(line.kind());
                assertNotNull(line.argument());
                if (line.kind() == ControlLine.Kind.BUSY) {
                    assertTrue(line.number() >= 1 && line.number() <= ControlLine.MAX_BUSY_SECONDS, "a wait within bounds: " + line.number());
                } else {
                    assertTrue(line.number() == ControlLine.NO_NUMBER
                            || line.number() >= ControlLine.MIN_DATAGRAM && line.number() <= ControlLine.MAX_DATAGRAM,
                            "a datagram size within bounds: " + line.number());
                }
                assertTrue(line.argument().indexOf('\n') < 0, "one line is one message");
            } finally {
                frame.release();
            }
        }
        stream.finishAndReleaseAll();
    }
}
