package io.cloudbridge.masque.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.api.net.IpPrefix;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import java.net.InetAddress;
import java.util.List;
import org.junit.jupiter.api.Test;

/** What a CONNECT-IP session decides by: IP headers, the tenant's prefixes as RFC 9484 ranges. */
class IpSessionTest {

    private static byte[] ipv4(int totalLength, int actualLength, String from, String to, int protocol) throws Exception {
        byte[] p = new byte[actualLength];
        p[0] = 0x45;
        p[2] = (byte) (totalLength >> 8);
        p[3] = (byte) totalLength;
        p[8] = 64;
        p[9] = (byte) protocol;
        System.arraycopy(InetAddress.getByName(from).getAddress(), 0, p, 12, 4);
        System.arraycopy(InetAddress.getByName(to).getAddress(), 0, p, 16, 4);
        return p;
    }

    @Test
    void anIpv4HeaderIsReadOnlyWhenItsLengthsAgreeWithThePacket() throws Exception {
        String[] why = new String[1];
        IpHeader h = IpHeader.parse(Unpooled.wrappedBuffer(ipv4(28, 28, "100.64.0.4", "100.64.0.1", 1)), why);
        assertEquals(4, h.version());
        assertEquals(InetAddress.getByName("100.64.0.4"), h.source());
        assertEquals(InetAddress.getByName("100.64.0.1"), h.destination());
        assertEquals(1, h.protocol());
        assertNull(IpHeader.parse(Unpooled.wrappedBuffer(ipv4(28, 24, "100.64.0.4", "100.64.0.1", 1)), why));
        assertEquals("IPv4 total length disagrees with the packet", why[0]);
        assertNull(IpHeader.parse(Unpooled.wrappedBuffer(new byte[19]), why));
        assertEquals("neither IPv4 nor IPv6", why[0]);
        byte[] shortHeader = ipv4(20, 20, "100.64.0.4", "100.64.0.1", 1);
        shortHeader[0] = 0x44; // IHL 4: 16 bytes, below the minimum
        assertNull(IpHeader.parse(Unpooled.wrappedBuffer(shortHeader), why));
        assertEquals("truncated IPv4 header", why[0]);
        assertNull(IpHeader.parse(Unpooled.EMPTY_BUFFER, why));
        assertEquals("empty IP packet", why[0]);
    }

    @Test
    void anIpv6HeaderNeedsItsPayloadLengthToMatch() throws Exception {
        byte[] p = new byte[48];
        p[0] = 0x60;
        p[5] = 8;
        p[6] = 58; // ICMPv6
        System.arraycopy(InetAddress.getByName("fd00::4").getAddress(), 0, p, 8, 16);
        System.arraycopy(InetAddress.getByName("fd00::1").getAddress(), 0, p, 24, 16);
        String[] why = new String[1];
        IpHeader h = IpHeader.parse(Unpooled.wrappedBuffer(p), why);
        assertEquals(6, h.version());
        assertEquals(InetAddress.getByName("fd00::1"), h.destination());
        assertEquals(58, h.protocol());
        assertNull(IpHeader.parse(Unpooled.wrappedBuffer(java.util.Arrays.copyOf(p, 44)), why));
        assertEquals("IPv6 payload length disagrees with the packet", why[0]);
        assertNull(IpHeader.parse(Unpooled.wrappedBuffer(new byte[] {0x60, 0, 0}), why));
        assertEquals("truncated IPv6 header", why[0]);
        // An IPv4-mapped destination stays an IPv6 address: it must not pass for a tenant's IPv4 one.
        System.arraycopy(new byte[] {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (byte) 0xff, (byte) 0xff, 100, 64, 0, 1}, 0, p, 24, 16);
        IpHeader mapped = IpHeader.parse(Unpooled.wrappedBuffer(p), why);
        assertTrue(mapped.destination() instanceof java.net.Inet6Address, mapped.destination().toString());
        assertFalse(IpPrefix.parse("100.64.0.0/20").contains(mapped.destination()));
    }

    @Test
    void aTenantsPrefixesBecomeOrderedRangesThatARoutesDecoderAccepts() throws Exception {
        List<IpPrefix> scope = List.of(IpPrefix.parse("fd7a:115c:a1e0:1::/64"), IpPrefix.parse("100.64.64.0/20"),
                IpPrefix.parse("100.64.0.0/20"), IpPrefix.parse("100.64.1.0/24"));
        List<IpCapsules.AddressRange> ranges = IpSession.routes(scope, 0);
        assertEquals(3, ranges.size(), "the /24 inside the first /20 is folded into it: " + ranges);
        assertEquals(InetAddress.getByName("100.64.0.0"), ranges.get(0).start());
        assertEquals(InetAddress.getByName("100.64.15.255"), ranges.get(0).end());
        assertEquals(InetAddress.getByName("100.64.64.0"), ranges.get(1).start());
        assertEquals(InetAddress.getByName("100.64.79.255"), ranges.get(1).end());
        assertEquals(InetAddress.getByName("fd7a:115c:a1e0:1::"), ranges.get(2).start());
        assertEquals(InetAddress.getByName("fd7a:115c:a1e0:1:ffff:ffff:ffff:ffff"), ranges.get(2).end());
        ByteBuf encoded = IpCapsules.encodeRoutes(ByteBufAllocator.DEFAULT, ranges);
        try {
            assertEquals(ranges, IpCapsules.decodeRoutes(encoded), "what the gateway sends passes the RFC's checks");
        } finally {
            encoded.release();
        }
    }

    @Test
    void aPrefixHoldsExactlyItsAddresses() throws Exception {
        IpPrefix p = IpPrefix.parse("100.64.0.0/20");
        assertTrue(p.contains(InetAddress.getByName("100.64.15.255")));
        assertFalse(p.contains(InetAddress.getByName("100.64.16.0")));
        assertFalse(p.contains(InetAddress.getByName("fd00::1")), "another family");
        assertTrue(IpPrefix.parse("0.0.0.0/0").contains(InetAddress.getByName("192.0.2.1")));
        assertTrue(IpPrefix.parse("100.64.0.7/32").contains(InetAddress.getByName("100.64.0.7")));
        assertFalse(IpPrefix.parse("100.64.0.7/32").contains(InetAddress.getByName("100.64.0.6")));
    }
}
