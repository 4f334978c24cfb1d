package io.cloudbridge.wireguard.internal.device;

import java.net.InetAddress;
import java.net.UnknownHostException;

/** Reading the addresses of an IP packet, with every length checked first. */
public final class IpPackets {
    private IpPackets() {
    }

    /** The IP version (4 or 6), or -1 when the packet is too short to be either. */
    public static int version(byte[] p, int length) {
        if (length < 20) {
            return -1;
        }
        int v = (p[0] & 0xff) >>> 4;
        if (v == 4) {
            return 4;
        }
        return v == 6 && length >= 40 ? 6 : -1;
    }

    public static InetAddress source(byte[] p, int length) {
        return address(p, length, true);
    }

    public static InetAddress destination(byte[] p, int length) {
        return address(p, length, false);
    }

    private static InetAddress address(byte[] p, int length, boolean source) {
        int v = version(p, length);
        byte[] a;
        if (v == 4) {
            a = java.util.Arrays.copyOfRange(p, source ? 12 : 16, source ? 16 : 20);
        } else if (v == 6) {
            a = java.util.Arrays.copyOfRange(p, source ? 8 : 24, source ? 24 : 40);
        } else {
            return null;
        }
        try {
            // Inet6Address explicitly: getByAddress would turn ::ffff:a.b.c.d into an IPv4 address
            // and let an IPv6 packet pass for an IPv4 one in cryptokey routing.
            return v == 6 ? java.net.Inet6Address.getByAddress(null, a, -1) : InetAddress.getByAddress(a);
        } catch (UnknownHostException impossible) {
            return null;
        }
    }

    /** The length the IP header declares for the whole packet (the rest of a transport message is padding). */
    public static int declaredLength(byte[] p, int length) {
        int v = version(p, length);
        if (v == 4) {
            return ((p[2] & 0xff) << 8) | (p[3] & 0xff);
        }
        if (v == 6) {
            return 40 + (((p[4] & 0xff) << 8) | (p[5] & 0xff));
        }
        return -1;
    }
}
