package io.cloudbridge.masque.internal;

import io.netty.buffer.ByteBuf;

/**
 * QUIC's variable-length integer (RFC 9000, section 16), which HTTP/3 frames, capsules and HTTP
 * datagrams all use: the two high bits of the first byte give the length (1, 2, 4 or 8 bytes), the
 * rest is the value in network byte order, up to 2^62 - 1.
 */
final class VarInt {
    /** The largest value the encoding holds. */
    static final long MAX = (1L << 62) - 1;
    /** What {@link #read} returns when the buffer ends inside the integer. */
    static final long INCOMPLETE = -1;

    private VarInt() {
    }

    /** The encoded length of {@code value}: 1, 2, 4 or 8. */
    static int size(long value) {
        if (value < 0 || value > MAX) {
            throw new IllegalArgumentException("not a QUIC variable-length integer: " + value);
        }
        if (value < 1 << 6) {
            return 1;
        }
        if (value < 1 << 14) {
            return 2;
        }
        if (value < 1L << 30) {
            return 4;
        }
        return 8;
    }

    /** The encoded length announced by a first byte. */
    static int sizeOf(byte first) {
        return 1 << ((first & 0xff) >> 6);
    }

    /** Writes {@code value} in its shortest form. */
    static void write(ByteBuf out, long value) {
        switch (size(value)) {
            case 1 -> out.writeByte((int) value);
            case 2 -> out.writeShort((int) value | 0x4000);
            case 4 -> out.writeInt((int) value | 0x8000_0000);
            default -> out.writeLong(value | 0xc000_0000_0000_0000L);
        }
    }

    /**
     * Reads one integer at the reader index and moves past it; {@link #INCOMPLETE}, with the index
     * unchanged, when the buffer ends inside it. Non-shortest encodings are accepted, as RFC 9000
     * requires of a receiver.
     */
    static long read(ByteBuf in) {
        if (!in.isReadable()) {
            return INCOMPLETE;
        }
        int length = sizeOf(in.getByte(in.readerIndex()));
        if (in.readableBytes() < length) {
            return INCOMPLETE;
        }
        return switch (length) {
            case 1 -> in.readByte() & 0x3f;
            case 2 -> in.readShort() & 0x3fff;
            case 4 -> in.readInt() & 0x3fff_ffffL;
            default -> in.readLong() & 0x3fff_ffff_ffff_ffffL;
        };
    }
}
