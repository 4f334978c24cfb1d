package io.cloudbridge.masque.internal;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.CompositeByteBuf;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The Capsule Protocol (RFC 9297, section 3.2): on a request stream whose both ends said
 * {@code capsule-protocol: ?1}, the DATA frames' payloads are one byte stream of capsules,
 * {@code Type (i), Length (i), Value (..)}, a capsule free to straddle frames. Netty's HTTP/3 codec
 * knows nothing of them; this parser takes the DATA payloads as they come.
 *
 * <p>Types this side does not know are skipped as they arrive, never buffered, whatever their
 * length (RFC 9297: unknown capsule types are ignored); known types are bounded, so a peer cannot
 * make the relay buffer a huge value before it can judge it.
 */
final class Capsules {
    /** RFC 9297: an HTTP Datagram's payload carried reliably on the stream. */
    static final long DATAGRAM = 0x00;
    /** RFC 9484: addresses assigned to the receiver. */
    static final long ADDRESS_ASSIGN = 0x01;
    /** RFC 9484: addresses the sender asks for. */
    static final long ADDRESS_REQUEST = 0x02;
    /** RFC 9484: the address ranges the sender routes. */
    static final long ROUTE_ADVERTISEMENT = 0x03;

    private static final Set<Long> KNOWN = Set.of(DATAGRAM, ADDRESS_ASSIGN, ADDRESS_REQUEST, ROUTE_ADVERTISEMENT);

    /** A capsule; {@code value} is this capsule's own buffer, which the receiver releases. */
    record Capsule(long type, ByteBuf value) {
    }

    /** The stream broke the Capsule Protocol: the request stream is aborted (RFC 9297 section 3.3). */
    static final class MalformedCapsuleException extends Exception {
        private static final long serialVersionUID = 1L;

        MalformedCapsuleException(String message) {
            super(message);
        }
    }

    /** Encodes one capsule around {@code value} (released). */
    static ByteBuf encode(ByteBufAllocator alloc, long type, ByteBuf value) {
        int length = value.readableBytes();
        ByteBuf header = alloc.buffer(VarInt.size(type) + VarInt.size(length));
        VarInt.write(header, type);
        VarInt.write(header, length);
        CompositeByteBuf out = alloc.compositeBuffer(2);
        out.addComponents(true, header, value);
        return out;
    }

    private Capsules() {
    }

    /** Parses one request stream's capsules from its DATA payloads; not thread-safe (one stream, one event loop). */
    static final class Parser {
        private final int maxKnownLength;
        private final CompositeByteBuf pending;
        /** Bytes of an unknown capsule's value still to skip as they arrive. */
        private long skipping;
        private long skippedCapsules;

        /** @param maxKnownLength the largest value of a known type this stream buffers */
        Parser(ByteBufAllocator alloc, int maxKnownLength) {
            this.maxKnownLength = maxKnownLength;
            this.pending = alloc.compositeBuffer();
        }

        /**
         * Takes one DATA payload (released) and returns the capsules it completed, in order.
         *
         * @throws MalformedCapsuleException a known capsule longer than this stream takes
         */
        List<Capsule> feed(ByteBuf data) throws MalformedCapsuleException {
            if (skipping > 0) {
                int skip = (int) Math.min(skipping, data.readableBytes());
                data.skipBytes(skip);
                skipping -= skip;
            }
            if (data.isReadable()) {
                pending.addComponent(true, data);
            } else {
                data.release();
            }
            List<Capsule> out = new ArrayList<>(2);
            try {
                while (skipping == 0 && pending.isReadable()) {
                    int start = pending.readerIndex();
                    long type = VarInt.read(pending);
                    long length = type == VarInt.INCOMPLETE ? VarInt.INCOMPLETE : VarInt.read(pending);
                    if (length == VarInt.INCOMPLETE) {
                        pending.readerIndex(start);
                        break;
                    }
                    if (!KNOWN.contains(type)) {
                        skippedCapsules++;
                        int skip = (int) Math.min(length, pending.readableBytes());
                        pending.skipBytes(skip);
                        skipping = length - skip;
                        continue;
                    }
                    if (length > maxKnownLength) {
                        throw new MalformedCapsuleException("a capsule of type " + type + " and " + length
                                + " bytes: this stream takes at most " + maxKnownLength);
                    }
                    if (pending.readableBytes() < length) {
                        pending.readerIndex(start);
                        break;
                    }
                    // A copy: the value outlives the frames it came in, which are released as read.
                    out.add(new Capsule(type, pending.readBytes((int) length)));
                }
            } catch (MalformedCapsuleException e) {
                out.forEach(c -> c.value().release());
                throw e;
            } finally {
                pending.discardReadComponents();
            }
            return out;
        }

        /**
         * The stream ended: a capsule cut short is an error (RFC 9297 section 3.3: a stream that
         * ends inside a capsule is malformed).
         */
        void finish() throws MalformedCapsuleException {
            if (skipping > 0 || pending.isReadable()) {
                long left = skipping + pending.readableBytes();
                release();
                throw new MalformedCapsuleException("the stream ended inside a capsule (" + left + " bytes of it)");
            }
            release();
        }

        /** Capsules of unknown types skipped so far. */
        long skippedCapsules() {
            return skippedCapsules;
        }

        void release() {
            if (pending.refCnt() > 0) {
                pending.release();
            }
        }
    }
}
