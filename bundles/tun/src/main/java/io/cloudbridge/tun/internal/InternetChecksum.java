package io.cloudbridge.tun.internal;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * The Internet checksum (RFC 1071) over byte ranges, as the IP, TCP and UDP headers need it. Sums
 * are kept unfolded in a {@code long} so that a pseudo-header and a payload can be added before the
 * one fold at the end; eight bytes are read at a time, because this runs over every byte of every
 * segment the offload path makes or checks.
 */
public final class InternetChecksum {
    private static final VarHandle LONGS = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);

    private InternetChecksum() {
    }

    /**
     * Adds {@code bytes[offset, offset+length)} as big-endian 16-bit words to {@code sum}. The
     * range must start at an even distance from the start of what is summed (every caller sums
     * headers and payloads that do).
     */
    public static long add(long sum, byte[] bytes, int offset, int length) {
        int i = offset;
        int end = offset + length;
        // A 64-bit word contributes its two 32-bit halves; 2^32 is 1 modulo 2^16 - 1, so the folded
        // result equals the sum of 16-bit words. The accumulator cannot overflow below 2^31 bytes.
        for (; i + 8 <= end; i += 8) {
            long v = (long) LONGS.get(bytes, i);
            sum += (v >>> 32) + (v & 0xFFFF_FFFFL);
        }
        for (; i + 2 <= end; i += 2) {
            sum += ((bytes[i] & 0xFF) << 8) | (bytes[i + 1] & 0xFF);
        }
        if (i < end) {
            sum += (bytes[i] & 0xFF) << 8;
        }
        return sum;
    }

    /** Folds an unfolded sum to 16 bits (not complemented). */
    public static int fold(long sum) {
        while ((sum >>> 16) != 0) {
            sum = (sum & 0xFFFF) + (sum >>> 16);
        }
        return (int) sum;
    }

    /** The checksum field value for a sum: its folded one's complement. */
    public static int finish(long sum) {
        return ~fold(sum) & 0xFFFF;
    }

    /**
     * The TCP/UDP pseudo-header sum for a packet whose IP header starts at {@code ip}: addresses,
     * protocol and the transport length.
     */
    public static long pseudoHeader(byte[] packet, int ip, int protocol, int transportLength) {
        long sum = protocol + transportLength;
        if ((packet[ip] >> 4 & 0xF) == 4) {
            return add(sum, packet, ip + 12, 8);
        }
        return add(sum, packet, ip + 8, 32);
    }

    static int readShort(byte[] b, int at) {
        return (b[at] & 0xFF) << 8 | (b[at + 1] & 0xFF);
    }

    static void writeShort(byte[] b, int at, int value) {
        b[at] = (byte) (value >> 8);
        b[at + 1] = (byte) value;
    }

    /** Recomputes an IPv4 header's checksum in place. */
    static void fixIpv4HeaderChecksum(byte[] b, int ip) {
        int headerLength = (b[ip] & 0xF) * 4;
        writeShort(b, ip + 10, 0);
        writeShort(b, ip + 10, finish(add(0, b, ip, headerLength)));
    }
}
