package io.cloudbridge.masque.internal;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

/**
 * HTTP Datagrams (RFC 9297) as CONNECT-UDP and CONNECT-IP use them. In a QUIC DATAGRAM frame the
 * payload starts with the Quarter Stream ID (the request stream's id divided by four: client
 * bidirectional streams are multiples of four); then, for both protocols, a Context ID (RFC 9298
 * section 4, RFC 9484 section 6), 0 for a whole UDP payload or IP packet. On the stream, a
 * DATAGRAM capsule carries the same payload without the Quarter Stream ID.
 */
final class HttpDatagrams {
    /** The context of whole UDP payloads (CONNECT-UDP) and whole IP packets (CONNECT-IP). */
    static final long PAYLOAD_CONTEXT = 0;

    /** One HTTP Datagram; {@code payload} is a slice of the received frame, valid while it is. */
    record Datagram(long streamId, long contextId, ByteBuf payload) {
    }

    private HttpDatagrams() {
    }

    /** A QUIC DATAGRAM frame's payload for {@code payload} (released) on request stream {@code streamId}, context 0. */
    static ByteBuf quicDatagram(ByteBufAllocator alloc, long streamId, ByteBuf payload) {
        if ((streamId & 3) != 0) {
            throw new IllegalArgumentException("not a client-initiated bidirectional stream: " + streamId);
        }
        // One direct buffer, header and payload together: the QUIC channel copies a composite into a
        // direct buffer of its own before quiche takes it, a copy and two allocations per datagram.
        ByteBuf datagram = alloc.directBuffer(VarInt.size(streamId >> 2) + 1 + payload.readableBytes());
        try {
            VarInt.write(datagram, streamId >> 2);
            VarInt.write(datagram, PAYLOAD_CONTEXT);
            datagram.writeBytes(payload);
        } catch (RuntimeException e) {
            datagram.release();
            throw e;
        } finally {
            payload.release();
        }
        return datagram;
    }

    /** A QUIC DATAGRAM frame too short for a Quarter Stream ID: RFC 9297 makes it a connection error. */
    static final class MalformedDatagramException extends Exception {
        private static final long serialVersionUID = 1L;

        MalformedDatagramException(String message) {
            super(message);
        }
    }

    /** RFC 9297 section 2.1: stream ids end at 2^62 - 1, so their quarters at 2^60 - 1; more is a connection error. */
    static final long MAX_QUARTER_STREAM_ID = (1L << 60) - 1;

    /** H3_DATAGRAM_ERROR (RFC 9297 section 5.2). */
    static final int H3_DATAGRAM_ERROR = 0x33;

    /**
     * Reads a QUIC DATAGRAM frame's payload; {@code null} when it has no Context ID (RFC 9298
     * section 5: dropped, nothing else).
     *
     * @throws MalformedDatagramException no Quarter Stream ID, or one above {@link #MAX_QUARTER_STREAM_ID}: the connection is closed with
     *     {@link #H3_DATAGRAM_ERROR} (RFC 9297 section 2.1)
     */
    static Datagram parseQuic(ByteBuf frame) throws MalformedDatagramException {
        long quarter = VarInt.read(frame);
        if (quarter == VarInt.INCOMPLETE) {
            throw new MalformedDatagramException("an HTTP datagram without a Quarter Stream ID (" + frame.readableBytes() + " bytes)");
        }
        if (quarter > MAX_QUARTER_STREAM_ID) {
            // Four times it would be past the largest stream id, and overflow the long it is kept in.
            throw new MalformedDatagramException("a Quarter Stream ID of " + quarter + " (at most 2^60 - 1)");
        }
        long context = VarInt.read(frame);
        if (context == VarInt.INCOMPLETE) {
            return null;
        }
        return new Datagram(quarter << 2, context, frame.slice());
    }

    /** A DATAGRAM capsule's value for {@code payload} (released), context 0. */
    static ByteBuf capsuleValue(ByteBufAllocator alloc, ByteBuf payload) {
        ByteBuf header = alloc.buffer(1);
        VarInt.write(header, PAYLOAD_CONTEXT);
        return alloc.compositeBuffer(2).addComponents(true, header, payload);
    }

    /** Reads a DATAGRAM capsule's value (stream id {@code streamId}); {@code null} when empty. */
    static Datagram parseCapsuleValue(long streamId, ByteBuf value) {
        long context = VarInt.read(value);
        if (context == VarInt.INCOMPLETE) {
            return null;
        }
        return new Datagram(streamId, context, value.slice());
    }
}
