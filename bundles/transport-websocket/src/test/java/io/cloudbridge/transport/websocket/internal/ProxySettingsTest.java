package io.cloudbridge.transport.websocket.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

class ProxySettingsTest {
    @Test
    void theStandardVariablesAreRead() {
        ProxySettings p = ProxySettings.forHost("relay.example.com", Map.of("HTTPS_PROXY", "http://alice:s%3Acret@proxy.corp:3128"))
                .orElseThrow();
        assertEquals("proxy.corp", p.proxy().getHostString());
        assertEquals(3128, p.proxy().getPort());
        assertTrue(p.proxy().isUnresolved(), "the proxy's name is resolved when connecting");
        assertEquals("alice", p.username());
        assertEquals("s:cret", p.password());
        assertFalse(p.toString().contains("cret"), "no password in logs: " + p);
        assertEquals(80, ProxySettings.forHost("r", Map.of("https_proxy", "proxy.corp")).orElseThrow().proxy().getPort());
        assertTrue(ProxySettings.forHost("r", Map.of()).isEmpty());
        assertThrows(IllegalArgumentException.class, () -> ProxySettings.forHost("r", Map.of("HTTPS_PROXY", "socks5://p:1080")));
    }

    @Test
    void noProxyNamesHostsDomainsAndEverything() {
        String list = "localhost, .internal.example.com,example.org:8443, 10.0.0.7";
        assertTrue(ProxySettings.bypassed("localhost", list));
        assertTrue(ProxySettings.bypassed("relay.internal.example.com", list));
        assertTrue(ProxySettings.bypassed("internal.example.com", list));
        assertTrue(ProxySettings.bypassed("a.example.org", list));
        assertTrue(ProxySettings.bypassed("10.0.0.7", list));
        assertFalse(ProxySettings.bypassed("relay.example.com", list));
        assertFalse(ProxySettings.bypassed("notexample.org", list));
        assertTrue(ProxySettings.bypassed("anything", "*"));
        assertTrue(ProxySettings.forHost("relay.internal.example.com",
                Map.of("HTTPS_PROXY", "http://p:3128", "NO_PROXY", list)).isEmpty());
    }
}
