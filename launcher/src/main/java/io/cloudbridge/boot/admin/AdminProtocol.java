package io.cloudbridge.boot.admin;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * The framing of the admin socket, shared by the daemon and {@code bin/cloudbridge exec|shell}.
 *
 * <p>Every message is a 4-byte big-endian length then that many bytes. A request is one command
 * line in UTF-8. A response is one status byte ({@link #OK}, {@link #COMMAND_FAILED},
 * {@link #PROTOCOL_ERROR}) then the output in UTF-8. Lengths are checked against a bound before
 * anything is allocated.
 */
public final class AdminProtocol {
    public static final int MAX_REQUEST_BYTES = 64 * 1024;
    public static final int MAX_RESPONSE_BYTES = 16 * 1024 * 1024;
    public static final byte OK = 0;
    public static final byte COMMAND_FAILED = 1;
    public static final byte PROTOCOL_ERROR = 2;

    private AdminProtocol() {
    }

    /** A frame that breaks the protocol: too long, cut short, or not text. */
    public static final class ProtocolException extends IOException {
        private static final long serialVersionUID = 1L;

        public ProtocolException(String message) {
            super(message);
        }
    }

    /** A decoded response. */
    public record Response(byte status, String output) {
    }

    /**
     * Reads one frame's payload.
     *
     * @return the payload, or {@code null} on a clean end of stream before any byte of a frame
     * @throws ProtocolException on a length over {@code maxBytes} or a stream cut inside a frame
     */
    public static ByteBuffer readFrame(ReadableByteChannel in, int maxBytes) throws IOException {
        ByteBuffer header = ByteBuffer.allocate(4);
        if (!readFully(in, header, true)) {
            return null;
        }
        header.flip();
        int length = header.getInt();
        if (length < 0 || length > maxBytes) {
            throw new ProtocolException("frame of " + Integer.toUnsignedString(length) + " bytes exceeds the limit of "
                    + maxBytes);
        }
        ByteBuffer payload = ByteBuffer.allocate(length);
        if (!readFully(in, payload, false)) {
            throw new ProtocolException("stream ended inside a frame");
        }
        payload.flip();
        return payload;
    }

    private static boolean readFully(ReadableByteChannel in, ByteBuffer buf, boolean eofAllowedAtStart)
            throws IOException {
        while (buf.hasRemaining()) {
            int n = in.read(buf);
            if (n < 0) {
                if (eofAllowedAtStart && buf.position() == 0) {
                    return false;
                }
                throw new ProtocolException(buf.position() == 0 && !eofAllowedAtStart ? "stream ended inside a frame"
                        : "stream ended inside a frame header");
            }
        }
        return true;
    }

    public static void writeFrame(WritableByteChannel out, byte[]... parts) throws IOException {
        int length = 0;
        for (byte[] p : parts) {
            length += p.length;
        }
        ByteBuffer buf = ByteBuffer.allocate(4 + length);
        buf.putInt(length);
        for (byte[] p : parts) {
            buf.put(p);
        }
        buf.flip();
        while (buf.hasRemaining()) {
            out.write(buf);
        }
    }

    public static void writeRequest(WritableByteChannel out, String command) throws IOException {
        byte[] bytes = command.getBytes(StandardCharsets.UTF_8);
        if (bytes.length > MAX_REQUEST_BYTES) {
            throw new ProtocolException("command of " + bytes.length + " bytes exceeds the limit of " + MAX_REQUEST_BYTES);
        }
        writeFrame(out, bytes);
    }

    public static void writeResponse(WritableByteChannel out, byte status, String output) throws IOException {
        byte[] text = output.getBytes(StandardCharsets.UTF_8);
        if (text.length > MAX_RESPONSE_BYTES - 1) {
            String note = "\n[output cut at " + (MAX_RESPONSE_BYTES / 1024 / 1024) + " MiB]";
            byte[] cut = new byte[MAX_RESPONSE_BYTES - 1];
            byte[] noteBytes = note.getBytes(StandardCharsets.UTF_8);
            System.arraycopy(text, 0, cut, 0, cut.length - noteBytes.length);
            System.arraycopy(noteBytes, 0, cut, cut.length - noteBytes.length, noteBytes.length);
            text = cut;
        }
        writeFrame(out, new byte[] {status}, text);
    }

    /** Decodes UTF-8 strictly: a malformed request is refused rather than guessed at. */
    public static String decodeText(ByteBuffer payload) throws ProtocolException {
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(payload).toString();
        } catch (CharacterCodingException e) {
            throw new ProtocolException("the command is not valid UTF-8");
        }
    }

    public static Response readResponse(ReadableByteChannel in) throws IOException {
        ByteBuffer payload = readFrame(in, MAX_RESPONSE_BYTES);
        if (payload == null) {
            throw new EOFException("the daemon closed the connection without answering");
        }
        if (!payload.hasRemaining()) {
            throw new ProtocolException("empty response");
        }
        byte status = payload.get();
        // The daemon may cut output at a byte limit; decode leniently so a cut character shows as U+FFFD.
        return new Response(status, StandardCharsets.UTF_8.decode(payload).toString());
    }
}
