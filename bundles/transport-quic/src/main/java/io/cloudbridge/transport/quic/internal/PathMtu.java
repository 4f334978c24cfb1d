package io.cloudbridge.transport.quic.internal;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.unix.IntegerUnixChannelOption;
import java.io.IOException;
import java.net.DatagramSocket;
import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;

/**
 * How large a datagram the path to the relay carries, found rather than assumed. The socket sends
 * every packet with don't-fragment set and never fragments locally (Linux's
 * {@code IP_PMTUDISC_PROBE}), so a QUIC path-MTU probe (PING and PADDING, RFC 9000 §14.3) that is
 * too large for some hop is lost instead of being split and delivered; QUIC's discovery
 * (DPLPMTUD, RFC 8899) then settles on the largest size whose probe was acknowledged. The upper
 * bound it searches up to is the MTU of the interface the route to the relay leaves by, and the
 * largest overlay packet is what a DATAGRAM frame holds in a packet of the size found.
 */
final class PathMtu {
    // <linux/in.h>, <linux/in6.h>: IP_MTU_DISCOVER and IPV6_MTU_DISCOVER set to *_PMTUDISC_PROBE.
    private static final int IPPROTO_IP = 0;
    private static final int IP_MTU_DISCOVER = 10;
    private static final int IPPROTO_IPV6 = 41;
    private static final int IPV6_MTU_DISCOVER = 23;
    private static final int PMTUDISC_PROBE = 3;
    static final IntegerUnixChannelOption IPV4_DONT_FRAGMENT = new IntegerUnixChannelOption("IP_MTU_DISCOVER", IPPROTO_IP, IP_MTU_DISCOVER);
    static final IntegerUnixChannelOption IPV6_DONT_FRAGMENT = new IntegerUnixChannelOption("IPV6_MTU_DISCOVER", IPPROTO_IPV6, IPV6_MTU_DISCOVER);

    /** IPv4 and UDP headers, and IPv6 and UDP headers: a UDP payload is the MTU less these. */
    static final int IPV4_UDP_HEADERS = 28;
    static final int IPV6_UDP_HEADERS = 48;
    /**
     * What a QUIC short-header packet adds around a DATAGRAM frame, at most: the first byte, the
     * relay's connection ID (up to 20 bytes), a packet number (up to 4), the AEAD tag (16), the
     * frame's type (1) and length (a varint, up to 8).
     */
    static final int QUIC_DATAGRAM_OVERHEAD = 1 + 20 + 4 + 16 + 1 + 8;
    /** The smallest UDP payload QUIC works with (RFC 9000 §14): a path carries at least this. */
    static final int QUIC_MIN_UDP_PAYLOAD = 1_200;
    /** While a new connection's discovery runs: how often its limit is looked at. */
    static final long SETTLE_POLL_MILLIS = 100;
    /** Discovery has settled when the limit has not changed for this long... */
    static final long SETTLED_MILLIS = 1_000;
    /** ...or after this long at most (a lossy path can keep probes failing). */
    static final long SETTLE_AT_MOST_MILLIS = 5_000;
    /** The largest UDP payload there is. */
    static final int MAX_UDP_PAYLOAD = 65_527;

    private PathMtu() {
    }

    /** Whether the socket can be told not to fragment: only with the epoll transport, on Linux. */
    static boolean canProbe() {
        return Epoll.isAvailable();
    }

    /** Sends with don't-fragment set and without local fragmentation, over IPv4 and IPv6. */
    static Bootstrap dontFragment(Bootstrap udp) {
        return udp.option(IPV4_DONT_FRAGMENT, PMTUDISC_PROBE).option(IPV6_DONT_FRAGMENT, PMTUDISC_PROBE);
    }

    /**
     * The largest UDP payload the first hop towards {@code relay} carries: its interface's MTU less
     * the headers. Nothing is sent to learn it (connecting a UDP socket only picks the route).
     */
    static int firstHopPayload(InetSocketAddress relay) throws IOException {
        try (DatagramSocket probe = new DatagramSocket()) {
            probe.connect(relay);
            NetworkInterface out = NetworkInterface.getByInetAddress(probe.getLocalAddress());
            if (out == null) {
                throw new IOException("no interface routes to " + relay);
            }
            int headers = relay.getAddress() instanceof Inet6Address ? IPV6_UDP_HEADERS : IPV4_UDP_HEADERS;
            return Math.max(QUIC_MIN_UDP_PAYLOAD, Math.min(MAX_UDP_PAYLOAD, out.getMTU() - headers));
        }
    }

    /** The largest DATAGRAM frame's payload in packets of {@code udpPayload} bytes. */
    static int datagramLimit(long udpPayload) {
        return (int) Math.max(0, udpPayload - QUIC_DATAGRAM_OVERHEAD);
    }
}
