package io.cloudbridge.boot.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ReadableByteChannel;

/**
 * Fuzz targets for the admin socket's framing, both ends: the daemon reads requests from any
 * local process that reaches the socket, the client reads whatever answers. A stream must yield
 * frames within the bound, a clean end, or a {@link AdminProtocol.ProtocolException}; never a
 * runtime exception, and never an allocation larger than the bound.
 */
class AdminProtocolFuzzTest {

    @FuzzTest
    void requests(byte[] data) {
        ReadableByteChannel in = Channels.newChannel(new ByteArrayInputStream(data));
        try {
            ByteBuffer frame;
            int consumed = 0;
            while ((frame = AdminProtocol.readFrame(in, AdminProtocol.MAX_REQUEST_BYTES)) != null) {
                assertTrue(frame.remaining() <= AdminProtocol.MAX_REQUEST_BYTES);
                consumed += 4 + frame.remaining();
                assertTrue(consumed <= data.length, "a frame never holds more than arrived");
                String command;
                try {
                    command = AdminProtocol.decodeText(frame);
                } catch (AdminProtocol.ProtocolException e) {
                    assertNotNull(e.getMessage());
                    continue;
                }
                // What the daemon accepted, the client can send: the round trip gives it back.
                ByteArrayOutputStream out = new ByteArrayOutputStream();
                AdminProtocol.writeRequest(Channels.newChannel(out), command);
                ByteBuffer again = AdminProtocol.readFrame(Channels.newChannel(new ByteArrayInputStream(out.toByteArray())),
                        AdminProtocol.MAX_REQUEST_BYTES);
                assertEquals(command, AdminProtocol.decodeText(again));
            }
            assertEquals(data.length, consumed, "a clean end only after whole frames");
        } catch (AdminProtocol.ProtocolException e) {
            assertNotNull(e.getMessage());
        } catch (IOException e) {
            throw new AssertionError("only ProtocolException may come from a byte stream", e);
        }
    }

    @FuzzTest
    void responses(byte[] data) {
        try {
            AdminProtocol.Response r = AdminProtocol.readResponse(Channels.newChannel(new ByteArrayInputStream(data)));
            assertEquals(data[4], r.status());
            assertNotNull(r.output());
        } catch (AdminProtocol.ProtocolException | java.io.EOFException e) {
            assertNotNull(e.getMessage());
        } catch (IOException e) {
            throw new AssertionError("only ProtocolException or EOF may come from a byte stream", e);
        }
    }
}
