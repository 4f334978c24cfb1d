package io.cloudbridge.wireguard.internal.device;

import java.net.Inet4Address;
import java.nio.ByteBuffer;

/**
 * ICMPv4 echo: building requests, and answering them in userspace mode, where no kernel stack
 * sits behind the overlay address.
 */
public final class IcmpEcho {
    private IcmpEcho() {
    }

    /** An IPv4 packet carrying an ICMP echo request. */
    public static byte[] request(Inet4Address source, Inet4Address destination, int id, int sequence, byte[] payload) {
        return packet(source, destination, 8, id, sequence, payload);
    }

    /** Whether the packet is an ICMPv4 echo request (type 8) in an unfragmented IPv4 packet. */
    public static boolean isRequest(byte[] p, int length) {
        return isIcmp(p, length) && (p[headerLength(p)] & 0xff) == 8;
    }

    /** Whether the packet is an ICMPv4 echo reply (type 0). */
    public static boolean isReply(byte[] p, int length) {
        return isIcmp(p, length) && (p[headerLength(p)] & 0xff) == 0;
    }

    private static boolean isIcmp(byte[] p, int length) {
        if (IpPackets.version(p, length) != 4 || p[9] != 1) {
            return false;
        }
        int hl = headerLength(p);
        int total = IpPackets.declaredLength(p, length);
        return hl >= 20 && total <= length && total >= hl + 8;
    }

    private static int headerLength(byte[] p) {
        return (p[0] & 0x0f) * 4;
    }

    public static int id(byte[] p) {
        int at = headerLength(p) + 4;
        return ((p[at] & 0xff) << 8) | (p[at + 1] & 0xff);
    }

    public static int sequence(byte[] p) {
        int at = headerLength(p) + 6;
        return ((p[at] & 0xff) << 8) | (p[at + 1] & 0xff);
    }

    /** The reply to an echo request: addresses swapped, same id, sequence and data. */
    public static byte[] replyTo(byte[] request, int length) {
        int hl = headerLength(request);
        int total = IpPackets.declaredLength(request, length);
        byte[] payload = java.util.Arrays.copyOfRange(request, hl + 8, total);
        try {
            Inet4Address src = (Inet4Address) IpPackets.source(request, length);
            Inet4Address dst = (Inet4Address) IpPackets.destination(request, length);
            return packet(dst, src, 0, id(request), sequence(request), payload);
        } catch (ClassCastException e) {
            throw new IllegalArgumentException("not IPv4", e);
        }
    }

    private static byte[] packet(Inet4Address source, Inet4Address destination, int type, int id, int sequence,
            byte[] payload) {
        int total = 20 + 8 + payload.length;
        ByteBuffer b = ByteBuffer.allocate(total);
        b.put((byte) 0x45).put((byte) 0).putShort((short) total).putShort((short) 0).putShort((short) 0x4000)
                .put((byte) 64).put((byte) 1).putShort((short) 0).put(source.getAddress()).put(destination.getAddress());
        b.put((byte) type).put((byte) 0).putShort((short) 0).putShort((short) id).putShort((short) sequence).put(payload);
        byte[] p = b.array();
        putChecksum(p, 0, 20, 10);
        putChecksum(p, 20, total - 20, 22);
        return p;
    }

    /** The Internet checksum (RFC 1071) of {@code p[offset, offset+length)}, written at {@code at}. */
    private static void putChecksum(byte[] p, int offset, int length, int at) {
        long sum = 0;
        for (int i = 0; i + 1 < length; i += 2) {
            sum += ((p[offset + i] & 0xff) << 8) | (p[offset + i + 1] & 0xff);
        }
        if ((length & 1) != 0) {
            sum += (p[offset + length - 1] & 0xff) << 8;
        }
        while ((sum >> 16) != 0) {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        int c = (int) (~sum & 0xffff);
        p[at] = (byte) (c >> 8);
        p[at + 1] = (byte) c;
    }
}
