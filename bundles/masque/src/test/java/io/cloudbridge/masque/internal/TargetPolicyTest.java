package io.cloudbridge.masque.internal;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.util.Set;
import org.junit.jupiter.api.Test;

class TargetPolicyTest {
    private static InetAddress ip(String s) throws Exception {
        return InetAddress.getByName(s);
    }

    @Test
    void onlyPublicUnicastPassesByDefault() throws Exception {
        InetAddress own = ip("203.0.113.9");
        TargetPolicy p = new TargetPolicy(new String[0], new String[0], () -> Set.of(own));
        assertNull(p.refusal("acme", ip("8.8.8.8")));
        assertNull(p.refusal("acme", ip("2606:4700::1111")));
        for (String refused : new String[] {"127.0.0.1", "::1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
                "fe80::1", "fd00::5", "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "::", "203.0.113.9"}) {
            assertTrue(p.refusal("acme", ip(refused)) != null, refused + " must be refused");
        }
        // An IPv4-mapped IPv6 address is the IPv4 address to the kernel.
        InetAddress mapped = java.net.Inet6Address.getByAddress(null,
                new byte[] {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (byte) 0xff, (byte) 0xff, 10, 0, 0, 1}, null);
        assertTrue(p.refusal("acme", mapped).startsWith("private"), p.refusal("acme", mapped));
    }

    @Test
    void allowOpensToOneTenantAndDenyWinsForAll() throws Exception {
        TargetPolicy p = new TargetPolicy(new String[] {"acme=10.0.0.0/8", "*=127.0.0.1/32"},
                new String[] {"*=10.9.0.0/16", "acme=8.8.4.4/32"}, Set::of);
        assertNull(p.refusal("acme", ip("10.1.2.3")));
        assertTrue(p.refusal("other", ip("10.1.2.3")).startsWith("private"));
        assertNull(p.refusal("other", ip("127.0.0.1")), "'*' allows every tenant");
        assertTrue(p.refusal("acme", ip("10.9.1.1")).contains("masque.deny"), "deny wins over allow");
        assertTrue(p.refusal("acme", ip("8.8.4.4")).contains("masque.deny"));
        assertNull(p.refusal("other", ip("8.8.4.4")));
        assertThrows(IllegalArgumentException.class, () -> new TargetPolicy(new String[] {"10.0.0.0/8"}, new String[0], Set::of));
    }

    /** An IPv6 address from its 16 bytes, never turned into an IPv4 address the way InetAddress.getByName turns ::ffff:a.b.c.d. */
    private static InetAddress v6(String literal) throws Exception {
        byte[] b = InetAddress.getByName(literal).getAddress();
        return java.net.Inet6Address.getByAddress(null, b.length == 16 ? b : mappedBytes(b), null);
    }

    private static byte[] mappedBytes(byte[] v4) {
        byte[] b = new byte[16];
        b[10] = (byte) 0xff;
        b[11] = (byte) 0xff;
        System.arraycopy(v4, 0, b, 12, 4);
        return b;
    }

    /**
     * Addresses that carry an IPv4 address inside: a relay with NAT64, a 6to4 or Teredo route, or
     * a kernel that maps them, sends to the IPv4 address, so that address is what gets judged.
     * Each form is tried with a private, a loopback and a link-local (cloud metadata) address
     * inside, and with a public one, which passes.
     */
    @Test
    void theIpv4AddressInsideEveryTranslationAndTransitionFormIsJudged() throws Exception {
        TargetPolicy p = new TargetPolicy(new String[0], new String[0], Set::of);
        String[][] refused = {
            // NAT64's well-known prefix (RFC 6052): [64:ff9b::10.0.0.2]:53 reaches 10.0.0.2 on an IPv6-only relay.
            {"64:ff9b::a00:2", "private"}, {"64:ff9b::7f00:1", "loopback"}, {"64:ff9b::a9fe:a9fe", "link-local"},
            {"64:ff9b::c0a8:101", "private"}, {"64:ff9b::6440:1", "special-purpose"},
            // IPv4-mapped (RFC 4291 2.5.5.2) and the deprecated IPv4-compatible form (2.5.5.1).
            {"::ffff:a00:2", "private"}, {"::a00:2", "private"}, {"::7f00:1", "loopback"},
            // 6to4 (RFC 3056): the IPv4 address in bits 16 to 47 is where the packet is sent, encapsulated.
            {"2002:a00:2::1", "private"}, {"2002:7f00:1::1", "loopback"},
            // Teredo (RFC 4380): the server's IPv4 address in bits 32 to 63, the client's inverted in the last 32.
            {"2001:0:a00:2::1", "private"}, {"2001:0:808:808:0:f227:f5ff:fffd", "private"},
        };
        for (String[] r : refused) {
            String why = p.refusal("acme", v6(r[0]));
            assertTrue(why != null && why.startsWith(r[1]), r[0] + " must be refused as " + r[1] + ": " + why);
        }
        // RFC 8215's local-use prefix may embed the IPv4 address at any RFC 6052 position: refused whole.
        assertTrue(p.refusal("acme", v6("64:ff9b:1::808:808")) != null);
        assertTrue(p.refusal("acme", v6("64:ff9b:1:a00:2::")) != null);
        for (String passes : new String[] {"64:ff9b::808:808", "::ffff:808:808", "2002:808:808::1", "2001:0:808:808:0:f227:f7f7:f7f7"}) {
            assertNull(p.refusal("acme", v6(passes)), passes + " holds a public IPv4 address");
        }
    }

    @Test
    void rulesAndTheRelaysOwnAddressesApplyToTheIpv4AddressInside() throws Exception {
        InetAddress own = ip("203.0.113.9");
        TargetPolicy p = new TargetPolicy(new String[] {"acme=10.0.0.0/8", "lab=64:ff9b::/96"}, new String[] {"*=8.8.4.4/32"},
                () -> Set.of(own));
        assertNull(p.refusal("acme", v6("64:ff9b::a00:2")), "a tenant allowed 10.0.0.0/8 may reach it through NAT64");
        assertTrue(p.refusal("other", v6("64:ff9b::a00:2")).startsWith("private"));
        assertNull(p.refusal("lab", v6("64:ff9b::a00:2")), "an allow entry naming the IPv6 form opens it as written");
        assertTrue(p.refusal("acme", v6("64:ff9b::808:404")).contains("masque.deny"), "a deny of the IPv4 address holds through NAT64");
        assertTrue(p.refusal("lab", v6("64:ff9b::808:404")).contains("masque.deny"), "a deny wins over an allow of the IPv6 form");
        assertTrue(p.refusal("acme", v6("64:ff9b::cb00:7109")).contains("relay's own"));
        assertTrue(p.refusal("acme", v6("2002:cb00:7109::1")).contains("relay's own"));
    }
}
