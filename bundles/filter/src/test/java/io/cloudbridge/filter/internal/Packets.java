package io.cloudbridge.filter.internal;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * Hand-built IP packets for the filter's tests: IPv4 or IPv6 by the addresses given, with correct
 * lengths in every header; checksums are left zero, the filter reads none.
 */
final class Packets {
    static final String NODE4 = "100.64.0.1";
    static final String PEER4 = "100.64.0.2";
    static final String OTHER4 = "100.64.0.3";
    static final String NODE6 = "fd7a:115c:a1e0::1";
    static final String PEER6 = "fd7a:115c:a1e0::2";

    static final int SYN = PacketHeaders.TCP_SYN;
    static final int ACK = PacketHeaders.TCP_ACK;
    static final int FIN = PacketHeaders.TCP_FIN;
    static final int RST = PacketHeaders.TCP_RST;

    static final int HOP_BY_HOP = 0;
    static final int ROUTING = 43;
    static final int FRAGMENT = 44;
    static final int DESTINATION_OPTIONS = 60;

    private Packets() {
    }

    static byte[] tcp(String from, int fromPort, String to, int toPort, int flags) {
        return ip(from, to, PacketHeaders.TCP, tcpHeader(fromPort, toPort, flags));
    }

    static byte[] udp(String from, int fromPort, String to, int toPort) {
        return ip(from, to, PacketHeaders.UDP, udpDatagram(fromPort, toPort, 12));
    }

    /** An echo request or reply, ICMP or ICMPv6 by the addresses' family. */
    static byte[] echo(String from, String to, boolean request, int id) {
        boolean v4 = address(from) instanceof Inet4Address;
        int type = v4 ? (request ? 8 : 0) : (request ? 128 : 129);
        byte[] icmp = ByteBuffer.allocate(16).put((byte) type).put((byte) 0).putShort((short) 0).putShort((short) id)
                .putShort((short) 1).array();
        return ip(from, to, v4 ? PacketHeaders.ICMP : PacketHeaders.ICMPV6, icmp);
    }

    /**
     * An ICMP error from {@code from} about {@code original}, quoting its header and the first
     * eight bytes after it, as routers do; {@code extra} is the second word (the MTU of "packet too
     * big" and "fragmentation needed").
     */
    static byte[] icmpError(String from, String to, int type, int code, int extra, byte[] original) {
        boolean v4 = address(from) instanceof Inet4Address;
        int headerLength = v4 ? (original[0] & 0x0f) * 4 : 40;
        byte[] quote = Arrays.copyOf(original, Math.min(original.length, headerLength + 8));
        byte[] icmp = ByteBuffer.allocate(8 + quote.length).put((byte) type).put((byte) code).putShort((short) 0).putInt(extra)
                .put(quote).array();
        return ip(from, to, v4 ? PacketHeaders.ICMP : PacketHeaders.ICMPV6, icmp);
    }

    static byte[] tcpHeader(int fromPort, int toPort, int flags) {
        return ByteBuffer.allocate(20).putShort((short) fromPort).putShort((short) toPort).putInt(1000).putInt(flags & ACK)
                .put((byte) (5 << 4)).put((byte) flags).putShort((short) 64_240).putInt(0).array();
    }

    static byte[] udpDatagram(int fromPort, int toPort, int payload) {
        return ByteBuffer.allocate(8 + payload).putShort((short) fromPort).putShort((short) toPort).putShort((short) (8 + payload))
                .array();
    }

    /** An IP packet around {@code transport}: a 20-byte IPv4 header or a 40-byte IPv6 one. */
    static byte[] ip(String from, String to, int protocol, byte[] transport) {
        byte[] source = address(from).getAddress();
        byte[] destination = address(to).getAddress();
        if (source.length == 4) {
            ByteBuffer b = ByteBuffer.allocate(20 + transport.length);
            b.put((byte) 0x45).put((byte) 0).putShort((short) (20 + transport.length)).putShort((short) 7).putShort((short) 0x4000)
                    .put((byte) 64).put((byte) protocol).putShort((short) 0).put(source).put(destination).put(transport);
            return b.array();
        }
        return ipv6(source, destination, protocol, transport);
    }

    private static byte[] ipv6(byte[] source, byte[] destination, int nextHeader, byte[] payload) {
        ByteBuffer b = ByteBuffer.allocate(40 + payload.length);
        b.putInt(0x6000_0000).putShort((short) payload.length).put((byte) nextHeader).put((byte) 64).put(source).put(destination)
                .put(payload);
        return b.array();
    }

    /** An IPv4 packet with {@code optionWords} words of options (IHL above 5). */
    static byte[] ipv4WithOptions(String from, String to, int optionWords, int protocol, byte[] transport) {
        byte[] plain = ip(from, to, protocol, transport);
        int header = 20 + optionWords * 4;
        ByteBuffer b = ByteBuffer.allocate(header + transport.length);
        b.put(plain, 0, 20);
        b.put(0, (byte) (0x40 | (header / 4)));
        b.putShort(2, (short) (header + transport.length));
        for (int i = 0; i < optionWords * 4; i++) {
            b.put((byte) 1); // no-operation options
        }
        b.put(transport);
        return b.array();
    }

    /** An IPv4 fragment: {@code offsetUnits} in 8-byte units, {@code more} the MF flag. */
    static byte[] ipv4Fragment(String from, String to, int protocol, int offsetUnits, boolean more, byte[] payload) {
        byte[] p = ip(from, to, protocol, payload);
        ByteBuffer.wrap(p).putShort(6, (short) ((more ? 0x2000 : 0) | offsetUnits));
        return p;
    }

    /**
     * An IPv6 packet whose header chain is {@code extensions} (each eight bytes long; a fragment
     * header is a first fragment with more to come) before {@code protocol}'s {@code transport}.
     */
    static byte[] ipv6WithExtensions(String from, String to, int[] extensions, int protocol, byte[] transport) {
        return ipv6Chain(from, to, extensions, protocol, transport, 0);
    }

    /** An IPv6 fragment with a fragment header at {@code offsetUnits} (8-byte units). */
    static byte[] ipv6Fragment(String from, String to, int protocol, int offsetUnits, byte[] payload) {
        return ipv6Chain(from, to, new int[] {FRAGMENT}, protocol, payload, offsetUnits);
    }

    private static byte[] ipv6Chain(String from, String to, int[] extensions, int protocol, byte[] transport, int fragmentOffset) {
        ByteBuffer chain = ByteBuffer.allocate(extensions.length * 8 + transport.length);
        for (int i = 0; i < extensions.length; i++) {
            int next = i + 1 < extensions.length ? extensions[i + 1] : protocol;
            chain.put((byte) next);
            if (extensions[i] == FRAGMENT) {
                chain.put((byte) 0).putShort((short) ((fragmentOffset << 3) | 1)).putInt(0x1234);
            } else {
                chain.put((byte) 0).put(new byte[] {1, 4, 0, 0, 0, 0}); // a PadN option filling the eight bytes
            }
        }
        chain.put(transport);
        int first = extensions.length == 0 ? protocol : extensions[0];
        return ipv6(address(from).getAddress(), address(to).getAddress(), first, chain.array());
    }

    /** The first {@code length} bytes of {@code packet}: a packet cut short. */
    static byte[] copy(byte[] packet, int length) {
        return Arrays.copyOf(packet, length);
    }

    static InetAddress address(String literal) {
        try {
            return InetAddress.getByName(literal); // literals only: never a look-up
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(literal, e);
        }
    }
}
