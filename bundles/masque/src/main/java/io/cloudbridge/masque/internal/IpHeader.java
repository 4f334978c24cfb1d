package io.cloudbridge.masque.internal;

import io.netty.buffer.ByteBuf;
import java.net.InetAddress;
import java.net.UnknownHostException;

/**
 * The fields of an IP packet's header the CONNECT-IP gateway decides by: version, source,
 * destination and protocol (IPv6's Next Header, extension headers not followed), after checking
 * the packet is what its header says (lengths agree). A packet that is not gets a reason instead.
 */
record IpHeader(int version, InetAddress source, InetAddress destination, int protocol) {

    /** The header of {@code packet} (readable bytes, left unread), or null with {@code why[0]} set. */
    static IpHeader parse(ByteBuf packet, String[] why) {
        int n = packet.readableBytes();
        int at = packet.readerIndex();
        if (n < 1) {
            why[0] = "empty IP packet";
            return null;
        }
        int version = (packet.getUnsignedByte(at) >> 4);
        try {
            if (version == 4) {
                int ihl = (packet.getUnsignedByte(at) & 0x0f) * 4;
                if (n < 20 || ihl < 20 || ihl > n) {
                    why[0] = "truncated IPv4 header";
                    return null;
                }
                int total = packet.getUnsignedShort(at + 2);
                if (total != n) {
                    why[0] = "IPv4 total length disagrees with the packet"; // a fixed reason: reasons are counters' keys
                    return null;
                }
                return new IpHeader(4, address(packet, at + 12, 4), address(packet, at + 16, 4), packet.getUnsignedByte(at + 9));
            }
            if (version == 6) {
                if (n < 40) {
                    why[0] = "truncated IPv6 header";
                    return null;
                }
                int payload = packet.getUnsignedShort(at + 4);
                if (payload + 40 != n) {
                    why[0] = "IPv6 payload length disagrees with the packet";
                    return null;
                }
                return new IpHeader(6, address(packet, at + 8, 16), address(packet, at + 24, 16), packet.getUnsignedByte(at + 6));
            }
        } catch (UnknownHostException e) {
            why[0] = "bad address";
            return null;
        }
        why[0] = "neither IPv4 nor IPv6";
        return null;
    }

    private static InetAddress address(ByteBuf packet, int at, int length) throws UnknownHostException {
        byte[] a = new byte[length];
        packet.getBytes(at, a);
        // An IPv6 address stays one: InetAddress.getByAddress would read ::ffff:a.b.c.d as the IPv4
        // address a.b.c.d, and a mapped address would pass for a tenant's IPv4 one.
        return length == 16 ? java.net.Inet6Address.getByAddress(null, a, null) : InetAddress.getByAddress(a);
    }
}
