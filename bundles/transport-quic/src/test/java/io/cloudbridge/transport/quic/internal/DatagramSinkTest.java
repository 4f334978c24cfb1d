package io.cloudbridge.transport.quic.internal;

import static io.cloudbridge.transport.quic.internal.RelaySessionKit.key;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.transport.quic.internal.RelaySessionKit.Close;
import io.cloudbridge.transport.quic.internal.RelaySessionKit.RecordingClose;
import io.cloudbridge.transport.support.Outbox;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.atomic.LongAdder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The switch's packets out: each one datagram {@code [source key][packet]}; the switch letting go ends the session. */
class DatagramSinkTest {
    private final EmbeddedChannel connection = new EmbeddedChannel();
    private final RecordingClose close = new RecordingClose();
    private final Outbox outbox = new Outbox(connection, b -> b, 100);
    private final DatagramSink sink = new DatagramSink(outbox, new SessionCloser(new ControlStream(), close, new LongAdder()));

    @AfterEach
    void noneLeft() {
        connection.finishAndReleaseAll();
    }

    @Test
    void aPacketFromTheSwitchIsOneDatagramOfItsSourceKeyThenThePacket() {
        ByteBuffer packet = ByteBuffer.wrap(new byte[] {9, 8, 7, 6});
        assertTrue(sink.deliver(key(5), packet));
        assertEquals(4, packet.remaining(), "the caller's buffer is left as it was");
        assertNull(connection.readOutbound(), "written by the connection's loop, not the switch's thread");

        connection.runPendingTasks();
        ByteBuf datagram = connection.readOutbound();
        try {
            byte[] bytes = ByteBufUtil.getBytes(datagram);
            byte[] expected = new byte[QuicWire.KEY_LENGTH + 4];
            System.arraycopy(key(5).toBytes(), 0, expected, 0, QuicWire.KEY_LENGTH);
            System.arraycopy(new byte[] {9, 8, 7, 6}, 0, expected, QuicWire.KEY_LENGTH, 4);
            assertArrayEquals(expected, bytes);
        } finally {
            datagram.release();
        }
        assertNull(connection.readOutbound(), "one datagram a packet");
    }

    @Test
    void aPacketLargerThanTheConnectionCarriesIsRefused() {
        assertFalse(sink.deliver(key(5), ByteBuffer.allocate(101)));
        assertEquals(1, outbox.dropped());
        connection.runPendingTasks();
        assertNull(connection.readOutbound());
    }

    @Test
    void theSwitchLettingGoEndsTheSessionForItsReason() {
        sink.closed("replaced by a newer session of the same node (quic)");
        assertEquals(List.of(new Close(QuicWire.POLICY_CLOSE, "replaced by a newer session of the same node (quic)")), close.closes);
    }
}
