package io.cloudbridge.boot.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ReadableByteChannel;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class AdminProtocolTest {

    private static ReadableByteChannel bytes(byte[] b) {
        return Channels.newChannel(new ByteArrayInputStream(b));
    }

    @Test
    void requestsAndResponsesRoundTrip() throws Exception {
        ByteArrayOutputStream wire = new ByteArrayOutputStream();
        AdminProtocol.writeRequest(Channels.newChannel(wire), "cb:status — ü");
        ByteBuffer frame = AdminProtocol.readFrame(bytes(wire.toByteArray()), AdminProtocol.MAX_REQUEST_BYTES);
        assertEquals("cb:status — ü", AdminProtocol.decodeText(frame));

        wire.reset();
        AdminProtocol.writeResponse(Channels.newChannel(wire), AdminProtocol.COMMAND_FAILED, "no such command");
        AdminProtocol.Response r = AdminProtocol.readResponse(bytes(wire.toByteArray()));
        assertEquals(AdminProtocol.COMMAND_FAILED, r.status());
        assertEquals("no such command", r.output());
    }

    @Test
    void anOversizedLengthIsRefusedBeforeAnyAllocation() {
        byte[] header = ByteBuffer.allocate(4).putInt(Integer.MAX_VALUE).array();
        AdminProtocol.ProtocolException e = assertThrows(AdminProtocol.ProtocolException.class,
                () -> AdminProtocol.readFrame(bytes(header), AdminProtocol.MAX_REQUEST_BYTES));
        assertTrue(e.getMessage().contains("exceeds the limit"), e.getMessage());
        byte[] negative = ByteBuffer.allocate(4).putInt(-1).array();
        assertThrows(AdminProtocol.ProtocolException.class,
                () -> AdminProtocol.readFrame(bytes(negative), AdminProtocol.MAX_REQUEST_BYTES));
    }

    @Test
    void truncatedFramesAreErrorsButACleanEndIsNot() throws Exception {
        assertNull(AdminProtocol.readFrame(bytes(new byte[0]), 100));
        assertThrows(AdminProtocol.ProtocolException.class, () -> AdminProtocol.readFrame(bytes(new byte[] {0, 0}), 100));
        byte[] cut = ByteBuffer.allocate(6).putInt(10).put((byte) 'a').put((byte) 'b').array();
        assertThrows(AdminProtocol.ProtocolException.class, () -> AdminProtocol.readFrame(bytes(cut), 100));
    }

    @Test
    void malformedTextIsRefused() {
        ByteBuffer bad = ByteBuffer.wrap(new byte[] {(byte) 0xC3, (byte) 0x28});
        assertThrows(AdminProtocol.ProtocolException.class, () -> AdminProtocol.decodeText(bad));
    }

    @Test
    void anOversizedCommandIsRefusedAtTheClient() {
        String huge = "x".repeat(AdminProtocol.MAX_REQUEST_BYTES + 1);
        assertThrows(AdminProtocol.ProtocolException.class,
                () -> AdminProtocol.writeRequest(Channels.newChannel(new ByteArrayOutputStream()), huge));
    }

    @Test
    void anOversizedResponseIsCutWithANote() throws Exception {
        ByteArrayOutputStream wire = new ByteArrayOutputStream();
        String huge = "y".repeat(AdminProtocol.MAX_RESPONSE_BYTES + 10);
        AdminProtocol.writeResponse(Channels.newChannel(wire), AdminProtocol.OK, huge);
        AdminProtocol.Response r = AdminProtocol.readResponse(bytes(wire.toByteArray()));
        assertTrue(r.output().endsWith("MiB]"));
        assertEquals(AdminProtocol.MAX_RESPONSE_BYTES - 1, r.output().getBytes(StandardCharsets.UTF_8).length);
    }
}
