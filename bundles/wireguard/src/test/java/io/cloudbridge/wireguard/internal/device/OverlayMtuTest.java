package io.cloudbridge.wireguard.internal.device;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Map;
import org.junit.jupiter.api.Test;

class OverlayMtuTest {
    private static final Map<String, Integer> LINKS = Map.of("eth0", 1500, "veth1", 9000, "ppp0", 1492);

    private static int mtu(String ipOutput) {
        return OverlayMtu.routeMtu(ipOutput, dev -> LINKS.getOrDefault(dev, Integer.MAX_VALUE));
    }

    @Test
    void theLinkOrTheRouteGivesThePathMtu() {
        assertEquals(1500, mtu("10.0.0.2 dev eth0 src 10.0.0.1 uid 0 \\    cache "));
        assertEquals(1400, mtu("10.0.0.2 dev veth1 src 10.0.0.1 uid 0 \\    cache  mtu 1400"));
        assertEquals(1300, mtu("default via 10.0.0.1 dev eth0 proto dhcp mtu lock 1300"));
        assertEquals(9000, mtu("10.9.0.2 dev veth1@if7 src 10.9.0.1"));
        assertEquals(1492, mtu("default via 10.0.0.1 dev eth0\ndefault via 10.1.0.1 dev ppp0 metric 600"));
        assertEquals(Integer.MAX_VALUE, mtu(""));
    }

    @Test
    void overheadIsTakenOffButNeverBelowTheIpv6Minimum() {
        assertEquals(1420, OverlayMtu.fromPath(1500));
        assertEquals(1412, OverlayMtu.fromPath(1492));
        assertEquals(8920, OverlayMtu.fromPath(9000));
        assertEquals(1280, OverlayMtu.fromPath(1300));
    }
}
