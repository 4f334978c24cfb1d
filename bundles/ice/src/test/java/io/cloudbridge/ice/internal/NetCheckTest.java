package io.cloudbridge.ice.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.ice4j.Transport;
import org.ice4j.TransportAddress;
import org.junit.jupiter.api.Test;

class NetCheckTest {
    @Test
    void serversParseAsHostPortBracketedOrBare() {
        assertEquals(new TransportAddress("192.0.2.1", 3479, Transport.UDP), NetCheck.parse("192.0.2.1:3479"));
        assertEquals(new TransportAddress("192.0.2.1", 3478, Transport.UDP), NetCheck.parse("192.0.2.1"));
        assertEquals(new TransportAddress("2001:db8::1", 3480, Transport.UDP), NetCheck.parse("[2001:db8::1]:3480"));
        assertEquals(new TransportAddress("2001:db8::1", 3478, Transport.UDP), NetCheck.parse("2001:db8::1"));
        assertThrows(IllegalArgumentException.class, () -> NetCheck.parse("192.0.2.1:port"));
        assertThrows(IllegalArgumentException.class, () -> NetCheck.parse("192.0.2.1:70000"));
        assertThrows(IllegalArgumentException.class, () -> NetCheck.parse("[2001:db8::1"));
    }

    @Test
    void mappingIsToldOnlyFromComparableAnswers() {
        TransportAddress serverA = new TransportAddress("192.0.2.1", 3478, Transport.UDP);
        TransportAddress serverA2 = new TransportAddress("192.0.2.1", 3479, Transport.UDP);
        TransportAddress serverB = new TransportAddress("198.51.100.1", 3478, Transport.UDP);
        TransportAddress mapped = new TransportAddress("203.0.113.5", 40000, Transport.UDP);
        TransportAddress otherPort = new TransportAddress("203.0.113.5", 40001, Transport.UDP);
        TransportAddress v6 = new TransportAddress("2001:db8::5", 40002, Transport.UDP);
        assertTrue(NetCheck.mapping(List.of(answer(serverA, mapped))).startsWith("needs a second"));
        assertTrue(NetCheck.mapping(List.of(answer(serverA, mapped), answer(serverB, mapped))).startsWith("endpoint-independent ("));
        assertTrue(NetCheck.mapping(List.of(answer(serverA, mapped), answer(serverB, otherPort))).startsWith("endpoint-dependent"));
        assertTrue(NetCheck.mapping(List.of(answer(serverA, mapped), answer(serverA2, mapped)))
                .startsWith("endpoint-independent or address-dependent"));
        assertTrue(NetCheck.mapping(List.of(answer(serverA, mapped), answer(serverB, v6))).startsWith("needs a second"),
                "an IPv4 and an IPv6 answer do not compare");
    }

    private static NetCheck.Answer answer(TransportAddress server, TransportAddress mapped) {
        return new NetCheck.Answer(server.toString(), server, mapped, 1, null);
    }
}
