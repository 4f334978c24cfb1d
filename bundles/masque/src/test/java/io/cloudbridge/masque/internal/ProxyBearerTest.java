package io.cloudbridge.masque.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.api.transport.HomeRelay;
import io.cloudbridge.api.transport.RelayEndpoint;
import io.cloudbridge.api.transport.SessionCredentials;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Which bearer token the node sends to its MASQUE proxy, decided in one place for both
 * {@code tunnel:udp} and the MASQUE path ({@code up --masque-proxy URL}): the node's relay token
 * goes to its home relay's proxy only; another proxy gets masque.proxyTokenFile or nothing.
 */
class ProxyBearerTest {
    private static final String RELAY_TOKEN = "relay-token-of-n1";
    private static final String PIN = "sha256:" + "ab".repeat(32);

    @TempDir
    Path dir;

    /** The 'masque' section with the given values, the rest its defaults. */
    private static MasqueConfig config(Map<String, String> values) {
        return (MasqueConfig) java.lang.reflect.Proxy.newProxyInstance(MasqueConfig.class.getClassLoader(),
                new Class<?>[] {MasqueConfig.class}, (self, method, args) -> switch (method.getName()) {
                    case "annotationType" -> MasqueConfig.class;
                    case "toString" -> "MasqueConfig" + values;
                    case "hashCode" -> values.hashCode();
                    case "equals" -> self == args[0];
                    default -> values.containsKey(method.getName()) ? values.get(method.getName()) : method.getDefaultValue();
                });
    }

    private static HomeRelay home(String quicUri) {
        SessionCredentials credentials = new SessionCredentials(NodeKey.of(new byte[32]), () -> RELAY_TOKEN);
        List<RelayEndpoint> endpoints = List.of(new RelayEndpoint("r1", URI.create("wss://relay.example:443"), Optional.of(PIN)),
                new RelayEndpoint("r1", URI.create(quicUri), Optional.of(PIN)));
        return new HomeRelay() {
            @Override
            public List<RelayEndpoint> endpoints() {
                return endpoints;
            }

            @Override
            public SessionCredentials credentials() {
                return credentials;
            }
        };
    }

    private static UdpTunnels.Proxy proxy(Map<String, String> config, HomeRelay relay) throws Exception {
        MasqueConfig c = config(config);
        return UdpTunnels.proxy(c, new UriTemplate(c.udpTemplate()), relay);
    }

    @Test
    void anotherOperatorsProxyNeverGetsTheRelayToken() throws Exception {
        HomeRelay relay = home("quic://relay.example:8443");
        for (String other : new String[] {"https://proxy.other.example:443", "https://relay.example:443",
                "https://relay.example.other.example:8443", "https://203.0.113.5:8443",
                "https://198.51.100.1:8443/masque/{target_host}/{target_port}/"}) {
            UdpTunnels.Proxy p = proxy(Map.of("proxy", other), relay);
            assertNull(p.bearer(), other + " is not the node's relay: it must get no token");
            assertTrue(p.withheld().contains("masque.proxyTokenFile"), "the operator is told why and what to do: " + p.withheld());
        }
        UdpTunnels.Proxy unregistered = proxy(Map.of("proxy", "https://relay.example:8443"), null);
        assertNull(unregistered.bearer(), "with no home relay yet, nothing tells that the proxy is the relay's");
        assertTrue(unregistered.withheld().contains("not registered"), unregistered.withheld());
    }

    @Test
    void anotherProxyGetsTheTokenFromItsFileOnly() throws Exception {
        Path file = Files.writeString(dir.resolve("proxy.token"), "token-for-the-other-proxy\n");
        UdpTunnels.Proxy p = proxy(Map.of("proxy", "https://proxy.other.example:443", "proxyTokenFile", file.toString()),
                home("quic://relay.example:8443"));
        assertEquals("token-for-the-other-proxy", p.bearer());
        assertNull(p.withheld());
    }

    @Test
    void theHomeRelaysOwnProxyGetsTheRelayToken() throws Exception {
        assertEquals(RELAY_TOKEN, proxy(Map.of(), home("quic://relay.example:8443")).bearer(), "masque.proxy empty: the home relay's");
        assertEquals(RELAY_TOKEN, proxy(Map.of("proxy", "https://RELAY.example:8443"), home("quic://relay.example:8443")).bearer());
        assertEquals(RELAY_TOKEN, proxy(Map.of("proxy", "https://relay.example/masque/{target_host}/{target_port}/"),
                home("quic://relay.example")).bearer(), "443 both ways");
        assertEquals(RELAY_TOKEN, proxy(Map.of("proxy", "https://[2001:db8:0::1]:8443"), home("quic://[2001:db8::1]:8443")).bearer(),
                "one IPv6 address, written two ways");
    }
}
