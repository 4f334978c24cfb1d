package io.cloudbridge.wireguard.internal.device;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import io.cloudbridge.api.net.IpPrefix;
import io.cloudbridge.wireguard.internal.noise.Identity;
import java.net.InetAddress;
import java.nio.channels.DatagramChannel;
import java.time.Clock;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The longest allowed prefix across all peers wins, at any prefix length, and families never mix. */
class CryptokeyRoutingTest {
    @Test
    void longestPrefixAcrossPeersAtAnyLength() throws Exception {
        try (WireGuardDevice device = new WireGuardDevice(Identity.generate(), DatagramChannel.open(), (p, b, n) -> { },
                Clock.systemUTC())) {
            Peer wide = device.addPeer(Identity.generate().publicKey(), null,
                    List.of(IpPrefix.parse("10.0.0.0/8"), IpPrefix.parse("fd00::/7")), null);
            Peer narrow = device.addPeer(Identity.generate().publicKey(), null,
                    List.of(IpPrefix.parse("10.64.0.0/10"), IpPrefix.parse("fd12:3456::/127")), null);
            Peer everything = device.addPeer(Identity.generate().publicKey(), null, List.of(IpPrefix.parse("0.0.0.0/0")), null);

            assertSame(wide, device.route(InetAddress.getByName("10.1.2.3")));
            assertSame(narrow, device.route(InetAddress.getByName("10.64.0.1")));
            assertSame(narrow, device.route(InetAddress.getByName("10.127.255.255")));
            assertSame(wide, device.route(InetAddress.getByName("10.128.0.0")));
            assertSame(everything, device.route(InetAddress.getByName("192.0.2.1")));
            assertSame(narrow, device.route(InetAddress.getByName("fd12:3456::1")));
            assertSame(wide, device.route(InetAddress.getByName("fd12:3456::2")));
            assertSame(wide, device.route(InetAddress.getByName("fc00::1")));
            assertNull(device.route(InetAddress.getByName("fe80::1")), "0.0.0.0/0 holds no IPv6 address");
            // An IPv4-mapped IPv6 address is IPv6 on the wire: no IPv4 prefix holds it.
            byte[] mapped = new byte[16];
            mapped[10] = (byte) 0xff;
            mapped[11] = (byte) 0xff;
            mapped[12] = 10;
            mapped[15] = 1;
            assertNull(device.route(java.net.Inet6Address.getByAddress(null, mapped, -1)));
        }
    }
}
