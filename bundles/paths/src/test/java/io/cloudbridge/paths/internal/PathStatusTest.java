package io.cloudbridge.paths.internal;

import static io.cloudbridge.paths.internal.PathsTestKit.attempt;
import static io.cloudbridge.paths.internal.PathsTestKit.connected;
import static io.cloudbridge.paths.internal.PathsTestKit.relay;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.api.transport.RelayTransport;
import io.cloudbridge.paths.internal.PathsTestKit.TestTransport;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** What cb:paths, transport:list and cb:relays tell an operator of the transports and the session carrying the peers. */
class PathStatusTest {
    private final TestTransport quic = new TestTransport("quic", 10, "quic");
    private final TestTransport websocket = new TestTransport("websocket", 20, "wss");
    private final TestTransport tcp = new TestTransport("tcp", 30, "tcp");
    private final List<RelayTransport> installed = List.of(tcp, websocket, quic);
    private final Map<RelayTransport, RelayAttempt> attempts = new HashMap<>();

    @Test
    void transportListShowsEachTransportBestFirstAndMarksTheOneCarryingThePeers() {
        RelayAttempt q = connected(quic);
        attempts.put(quic, q);
        attempts.put(websocket, attempt(websocket));

        List<String> table = PathStatus.transportTable(q, installed, attempts);
        assertEquals(5, table.size(), String.join("\n", table));
        assertTrue(table.get(0).startsWith("TRANSPORT"), table.get(0));
        assertTrue(table.get(1).matches("quic\\s+10 connected \\*\\s+quic://relay\\.test:443\\s+-\\s+1400 .*"), table.get(1));
        assertTrue(table.get(2).matches("websocket\\s+20 connecting\\s+-\\s+-\\s+- .*"), table.get(2));
        assertTrue(table.get(3).matches("tcp\\s+30 idle .*"), table.get(3));

        q.ended = true;
        String ended = PathStatus.transportTable(q, installed, attempts).get(1);
        assertTrue(ended.contains("connected") && !ended.contains("*"), "a session the layer ended carries nothing: " + ended);
    }

    @Test
    void pathsNamesTheCarrierAndWhyAndEachTransportInItsOrderOfInstallation() {
        RelayAttempt q = connected(quic);
        attempts.put(quic, q);
        List<String> lines = PathStatus.describe(q, "session over quic connected", installed, attempts);
        assertEquals("relay path: quic (session over quic connected)", lines.get(0));
        assertEquals(List.of("tcp", "websocket", "quic"), lines.subList(1, 4).stream().map(l -> l.trim().split(" ")[0]).toList());
        assertTrue(lines.get(3).endsWith("connected, 0 sent, 0 received, 0 dropped"), lines.get(3));
        assertEquals("relay path: none (no relay yet)", PathStatus.describe(null, "no relay yet", installed, attempts).get(0));
        if (System.getProperty("os.name").startsWith("Linux")) {
            assertTrue(lines.get(4).startsWith("  kernel: ") && lines.get(4).contains("receive buffer room"), lines.get(4));
        }
    }

    @Test
    void dropsAreSplitByWhereTheyHappened() {
        assertEquals("", PathStatus.dropReasons(new io.cloudbridge.api.transport.TransportCounters(5, 500, 5, 500, 0)));
        var reasons = new java.util.LinkedHashMap<String, Long>();
        reasons.put("queue full", 3L);
        reasons.put("not connected", 1L);
        assertEquals(" (queue full 3, not connected 1)",
                PathStatus.dropReasons(new io.cloudbridge.api.transport.TransportCounters(5, 500, 5, 500, 4, reasons)));
    }

    @Test
    void relaysShowsTheHomeRelayItsEndpointsAndThePinnedCertificate() {
        assertEquals(List.of("no home relay (not registered)"), PathStatus.relayTable(null, null));
        List<String> lines = PathStatus.relayTable(relay("quic", "wss"), connected(quic));
        assertEquals(List.of("relay-1                  home, over quic; certificate sha256:ab", "  quic://relay.test:443",
                "  wss://relay.test:443"), lines);
        assertTrue(PathStatus.relayTable(relay("wss"), null).get(0).contains("over nothing yet"));
    }
}
