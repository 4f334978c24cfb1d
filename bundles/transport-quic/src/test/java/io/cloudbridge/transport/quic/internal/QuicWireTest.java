package io.cloudbridge.transport.quic.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.TooLongFrameException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The control stream's lines as the node reads them ({@link QuicWire#lines}) and as either side writes one. */
class QuicWireTest {
    @Test
    void eachLineGoesToItsReaderWithItsStreamAndALineTooLongToTheErrors() {
        List<String> read = new ArrayList<>();
        List<Channel> on = new ArrayList<>();
        List<Throwable> errors = new ArrayList<>();
        EmbeddedChannel stream = new EmbeddedChannel(QuicWire.lines((ch, text) -> {
            on.add(ch);
            read.add(text);
        }, errors::add));
        ByteBuf whole = Unpooled.copiedBuffer("OK 1400\nPO", StandardCharsets.UTF_8);
        stream.writeInbound(whole);
        stream.writeInbound(Unpooled.copiedBuffer("NG\r\n", StandardCharsets.UTF_8));
        assertEquals(List.of("OK 1400", "PONG"), read);
        assertSame(stream, on.get(0));
        assertEquals(List.of(), errors);

        stream.writeInbound(Unpooled.wrappedBuffer(new byte[QuicWire.MAX_LINE + 1]));
        assertEquals(1, errors.size());
        assertInstanceOf(TooLongFrameException.class, errors.get(0));
        assertEquals(2, read.size());
        stream.finishAndReleaseAll();
    }

    @Test
    void aLineIsItsTextAndANewline() {
        ByteBuf line = QuicWire.line("MTU 1400");
        assertEquals("MTU 1400\n", line.toString(StandardCharsets.UTF_8));
        line.release();
    }
}
