package io.cloudbridge.masque.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** masque.proxy as operators write it: an origin, or a whole RFC 9298 URI template. */
class ProxyUriTest {

    @Test
    void anOriginTakesPort443AndTheConfiguredTemplate() {
        assertEquals(new UdpTunnels.ProxyUri("proxy.example", 443, null), UdpTunnels.ProxyUri.parse("https://proxy.example"));
        assertEquals(new UdpTunnels.ProxyUri("proxy.example", 8443, null), UdpTunnels.ProxyUri.parse("https://proxy.example:8443/"));
        assertEquals(new UdpTunnels.ProxyUri("2001:db8::1", 4433, null), UdpTunnels.ProxyUri.parse("HTTPS://[2001:db8::1]:4433"));
    }

    @Test
    void aWholeTemplateIsTheProxysOwn() {
        UdpTunnels.ProxyUri u = UdpTunnels.ProxyUri.parse("https://198.51.100.1:8443/masque?h={target_host}&p={target_port}");
        assertEquals("198.51.100.1", u.host());
        assertEquals(8443, u.port());
        assertEquals("/masque?h={target_host}&p={target_port}", u.template());
    }

    @Test
    void whatCannotBeAProxyIsRefusedWithItsReason() {
        for (String[] bad : new String[][] {
                {"http://proxy.example", "https://"},
                {"proxy.example:443", "https://"},
                {"https://", "needs a host"},
                {"https://user@proxy.example", "no user info"},
                {"https://proxy.example:0", "bad port"},
                {"https://proxy.example:70000", "bad port"},
                {"https://proxy.example:x", "bad port"},
                {"https://[2001:db8::1:443", "unclosed"},
                {"https://proxy.example/masque/{target_host}/", "{target_port}"},
                {"https://proxy.example/masque/{target_host", "unclosed"}}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> UdpTunnels.ProxyUri.parse(bad[0]), bad[0]);
            assertTrue(e.getMessage().contains(bad[1]), bad[0] + ": " + e.getMessage());
        }
    }
}
