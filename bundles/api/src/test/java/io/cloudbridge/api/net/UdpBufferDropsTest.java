package io.cloudbridge.api.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class UdpBufferDropsTest {
    @Test
    void readsTheUdpLinesOfSnmpAndSnmp6() {
        List<String> snmp = List.of(
                "Tcp: RtoAlgorithm RtoMin",
                "Tcp: 1 200",
                "Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors",
                "Udp: 250192 3 1855 249000 1855 7 0 0 0",
                "UdpLite: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors",
                "UdpLite: 0 0 0 0 99 99 0 0 0");
        assertEquals(new UdpBufferDrops(1855, 7), UdpBufferDrops.fromSnmp(snmp));
        assertEquals(new UdpBufferDrops(12, 1), UdpBufferDrops.fromSnmp6(List.of("Udp6InDatagrams 5", "Udp6RcvbufErrors 12",
                "Udp6SndbufErrors 1", "UdpLite6RcvbufErrors 40")));
        assertEquals(new UdpBufferDrops(0, 0), UdpBufferDrops.fromSnmp(List.of("Udp: truncated")));
    }

    @Test
    void readsThisHostWhereItIsLinux() {
        if (System.getProperty("os.name").startsWith("Linux")) {
            UdpBufferDrops drops = UdpBufferDrops.read().orElseThrow();
            assertTrue(drops.receive() >= 0 && drops.send() >= 0, drops.toString());
        }
    }
}
