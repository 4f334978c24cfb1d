package io.cloudbridge.transport.quic.internal;

import static io.cloudbridge.transport.quic.internal.RelaySessionKit.key;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.api.relay.AuthenticatedNode;
import io.cloudbridge.transport.quic.internal.RelaySessionKit.RecordingPort;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The node's datagrams in: {@code [key][packet]} to the port, or dropped and counted; every one released. */
class DatagramDecoderTest {
    private final AtomicReference<RecordingPort> port = new AtomicReference<>();
    private final LongAdder malformed = new LongAdder();
    private final EmbeddedChannel connection = new EmbeddedChannel(new DatagramDecoder(port::get, malformed));

    @AfterEach
    void noneLeft() {
        connection.finishAndReleaseAll();
    }

    private static ByteBuf datagram(int keyByte, byte... packet) {
        return Unpooled.buffer().writeBytes(key(keyByte).toBytes()).writeBytes(packet);
    }

    private void signIn() {
        port.set(new RecordingPort(new AuthenticatedNode("n1", "t1", key(1))));
    }

    @Test
    void aDatagramBeforeAuthIsDroppedCountedAndReleased() {
        ByteBuf d = datagram(2, (byte) 1, (byte) 2, (byte) 3);
        connection.writeInbound(d);
        assertEquals(1, malformed.sum());
        assertEquals(0, d.refCnt());
        assertNull(connection.readInbound(), "a datagram goes no further down the pipeline");
    }

    @Test
    void aDatagramWithNoRoomForAPacketIsDroppedCountedAndReleased() {
        signIn();
        ByteBuf keyOnly = datagram(2);
        ByteBuf shorter = Unpooled.buffer().writeBytes(new byte[QuicWire.KEY_LENGTH - 1]);
        connection.writeInbound(keyOnly, shorter);
        assertEquals(2, malformed.sum());
        assertEquals(0, keyOnly.refCnt());
        assertEquals(0, shorter.refCnt());
        assertTrue(port.get().forwarded.isEmpty());
    }

    @Test
    void aGoodDatagramIsForwardedToItsKeyAndReleased() {
        signIn();
        ByteBuf first = datagram(2, (byte) 4, (byte) 5, (byte) 6);
        ByteBuf second = datagram(3, (byte) 7);
        connection.writeInbound(first, second);
        assertEquals(0, malformed.sum());
        assertEquals(2, port.get().forwarded.size());
        assertEquals(key(2), port.get().forwarded.get(0).destination());
        assertArrayEquals(new byte[] {4, 5, 6}, port.get().forwarded.get(0).packet(), "the packet alone, without the key");
        assertEquals(key(3), port.get().forwarded.get(1).destination(), "each datagram's own key");
        assertArrayEquals(new byte[] {7}, port.get().forwarded.get(1).packet());
        assertEquals(0, first.refCnt());
        assertEquals(0, second.refCnt());
    }

    @Test
    void whatIsNotADatagramGoesOn() {
        connection.writeInbound("not a datagram");
        assertEquals("not a datagram", connection.readInbound());
        assertEquals(0, malformed.sum());
    }
}
