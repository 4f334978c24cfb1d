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
}
