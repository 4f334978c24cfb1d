package io.cloudbridge.transport.quic.internal;

import static io.cloudbridge.transport.quic.internal.RelaySessionKit.linesOut;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Which stream is the control stream, what its pipeline hands the reader, and when a line goes out on it. */
class ControlStreamTest {
    private final ControlStream control = new ControlStream();
    private final List<String> read = new ArrayList<>();

    private EmbeddedChannel open() {
        return new EmbeddedChannel(control.streamHandler(new SimpleChannelInboundHandler<String>() {
            @Override
            protected void channelRead0(ChannelHandlerContext ctx, String line) {
                read.add(line);
            }
        }));
    }

    @Test
    void theFirstStreamIsTheControlStreamAndAnyLaterOneIsClosed() {
        assertFalse(control.send("MTU 1400"), "no control stream yet: nothing written");
        EmbeddedChannel first = open();
        EmbeddedChannel second = open();
        assertTrue(first.isActive());
        assertFalse(second.isActive(), "a node has one control stream");

        assertTrue(control.send("MTU 1400"));
        assertEquals(List.of("MTU 1400"), linesOut(first));
        assertEquals(List.of(), linesOut(second));

        first.writeInbound(Unpooled.copiedBuffer("PING\nAUTH x\n", StandardCharsets.UTF_8));
        assertEquals(List.of("PING", "AUTH x"), read, "the reader gets the lines' text, without their newlines");
        first.finishAndReleaseAll();
        second.finishAndReleaseAll();
    }

    @Test
    void nothingIsWrittenOnceTheControlStreamClosed() {
        EmbeddedChannel stream = open();
        stream.close();
        assertFalse(control.send("ERR late"));
        assertEquals(List.of(), linesOut(stream));
        stream.finishAndReleaseAll();
    }
}
