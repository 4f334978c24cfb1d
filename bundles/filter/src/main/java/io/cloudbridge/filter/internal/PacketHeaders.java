package io.cloudbridge.filter.internal;

/**
 * What the filter reads of an IP packet (no link header): the version, both addresses, the
 * protocol, and for TCP and UDP the ports (and TCP's flags), for ICMP and ICMPv6 the type, code and
 * echo identifier. Addresses are kept as two longs each (an IPv4 address in the low 32 bits of
 * {@link #sourceLow}), so that a packet of a known flow is looked up without building an
 * {@code InetAddress}.
 *
 * <p>Every packet is hostile input: {@link #read} and {@link #readQuoted} never throw and never
 * allocate; a packet they cannot read whole (truncated, inconsistent lengths, an IPv6 header chain
 * longer than {@value #MAX_EXTENSION_HEADERS} or running past the packet) is refused with
 * {@code false}, which the filter counts as malformed and drops.
 *
 * <p>Fragments: a non-first fragment ({@link #laterFragment}) has no transport header, only the
 * network layer is read. Two fragment tricks are refused as malformed, so that what the filter
 * decided on a first fragment is what the receiver reassembles: a first fragment too short to hold
 * the transport header the filter reads (RFC 1858's tiny fragment; RFC 7112 requires the whole
 * header chain in an IPv6 first fragment), and an IPv4 TCP fragment at offset 8, which could only
 * be there to overwrite the first fragment's flags (RFC 1858, section 3.2).
 *
 * <p>One instance per packet, filled by one call; the fields are read by the filter directly.
 */
final class PacketHeaders {
    static final int ICMP = 1;
    static final int TCP = 6;
    static final int UDP = 17;
    static final int ICMPV6 = 58;

    static final int TCP_FIN = 0x01;
    static final int TCP_SYN = 0x02;
    static final int TCP_RST = 0x04;
    static final int TCP_ACK = 0x10;

    /** RFC 8200 recommends at least this many be handled; more is a crafted packet, not a real one. */
    static final int MAX_EXTENSION_HEADERS = 8;

    private static final int IPV4_HEADER = 20;
    private static final int IPV6_HEADER = 40;
    private static final int HOP_BY_HOP = 0;
    private static final int ROUTING = 43;
    private static final int FRAGMENT = 44;
    private static final int DESTINATION_OPTIONS = 60;
    private static final int TCP_HEADER = 20;
    /** UDP's header, ICMP's first eight bytes, and what an ICMP error must quote of a transport header (RFC 792). */
    private static final int EIGHT = 8;

    int version;
    int protocol;
    long sourceHigh;
    long sourceLow;
    long destinationHigh;
    long destinationLow;
    int sourcePort;
    int destinationPort;
    int tcpFlags;
    int icmpType;
    int icmpCode;
    /** The echo identifier of an echo request or reply. */
    int icmpId;
    /** A fragment other than the first: only the network layer is known. */
    boolean laterFragment;
    /** Where an ICMP error's quoted packet starts in the array, and where the packet ends. */
    int quoteOffset;
    int end;

    /** Reads a whole packet; false when it is malformed. */
    boolean read(byte[] packet, int offset, int length) {
        return read(packet, offset, length, false);
    }

    /**
     * Reads the packet an ICMP error quotes: its own length fields describe the original, of which
     * the quote may hold only the header and the transport's first eight bytes (the ports).
     */
    boolean readQuoted(byte[] packet, int offset, int length) {
        return read(packet, offset, length, true);
    }

    private boolean read(byte[] packet, int offset, int length, boolean quoted) {
        if (packet == null || offset < 0 || length <= 0 || length > packet.length - offset) {
            return false;
        }
        version = (packet[offset] & 0xff) >>> 4;
        if (version == 4) {
            return readIpv4(packet, offset, length, quoted);
        }
        if (version == 6) {
            return readIpv6(packet, offset, length, quoted);
        }
        return false;
    }

    private boolean readIpv4(byte[] p, int offset, int length, boolean quoted) {
        if (length < IPV4_HEADER) {
            return false;
        }
        int headerLength = (p[offset] & 0x0f) * 4;
        int totalLength = u16(p, offset + 2);
        if (headerLength < IPV4_HEADER || headerLength > length || totalLength < headerLength) {
            return false;
        }
        if (quoted) {
            end = offset + length;
        } else if (totalLength > length) {
            return false;
        } else {
            end = offset + totalLength; // what follows is link padding, not the packet's
        }
        protocol = p[offset + 9] & 0xff;
        sourceHigh = 0;
        sourceLow = u32(p, offset + 12);
        destinationHigh = 0;
        destinationLow = u32(p, offset + 16);
        int fragmentOffset = u16(p, offset + 6) & 0x1fff;
        if (fragmentOffset != 0) {
            if (protocol == TCP && fragmentOffset == 1) {
                return false;
            }
            laterFragment = true;
            return true;
        }
        return readTransport(p, offset + headerLength, quoted);
    }

    private boolean readIpv6(byte[] p, int offset, int length, boolean quoted) {
        if (length < IPV6_HEADER) {
            return false;
        }
        int payloadLength = u16(p, offset + 4);
        if (quoted) {
            end = offset + length;
        } else if (IPV6_HEADER + payloadLength > length) {
            return false; // also a jumbogram's zero: not on an overlay whose MTU is well below 64 KiB
        } else {
            end = offset + IPV6_HEADER + payloadLength;
        }
        sourceHigh = u64(p, offset + 8);
        sourceLow = u64(p, offset + 16);
        destinationHigh = u64(p, offset + 24);
        destinationLow = u64(p, offset + 32);
        int next = p[offset + 6] & 0xff;
        int at = offset + IPV6_HEADER;
        for (int headers = 0; ; headers++) {
            boolean extension = next == HOP_BY_HOP || next == ROUTING || next == DESTINATION_OPTIONS || next == FRAGMENT;
            if (!extension) {
                protocol = next;
                return readTransport(p, at, quoted);
            }
            if (headers == MAX_EXTENSION_HEADERS || end - at < EIGHT) {
                return false;
            }
            int following = p[at] & 0xff;
            if (next == FRAGMENT) {
                if ((u16(p, at + 2) >>> 3) != 0) {
                    protocol = following;
                    laterFragment = true;
                    return true;
                }
                at += EIGHT; // the first fragment, or an atomic one: the chain goes on
            } else {
                int headerLength = ((p[at + 1] & 0xff) + 1) * 8;
                if (headerLength > end - at) {
                    return false;
                }
                at += headerLength;
            }
            next = following;
        }
    }

    /** TCP, UDP, ICMP on IPv4 and ICMPv6 on IPv6 are read; any other protocol has nothing more to read. */
    private boolean readTransport(byte[] p, int at, boolean quoted) {
        int available = end - at;
        switch (protocol) {
            case TCP -> {
                if (available < (quoted ? EIGHT : TCP_HEADER)) {
                    return false;
                }
                sourcePort = u16(p, at);
                destinationPort = u16(p, at + 2);
                if (!quoted) {
                    int dataOffset = ((p[at + 12] & 0xff) >>> 4) * 4;
                    if (dataOffset < TCP_HEADER || dataOffset > available) {
                        return false;
                    }
                    tcpFlags = p[at + 13] & 0xff;
                }
                return true;
            }
            case UDP -> {
                if (available < EIGHT) {
                    return false;
                }
                sourcePort = u16(p, at);
                destinationPort = u16(p, at + 2);
                return true;
            }
            case ICMP, ICMPV6 -> {
                if ((protocol == ICMP) != (version == 4)) {
                    return true; // ICMP's number in the other family: an opaque protocol, filtered by number only
                }
                if (available < EIGHT) {
                    return false;
                }
                icmpType = p[at] & 0xff;
                icmpCode = p[at + 1] & 0xff;
                icmpId = u16(p, at + 4);
                quoteOffset = at + EIGHT;
                return true;
            }
            default -> {
                return true;
            }
        }
    }

    boolean isIcmp() {
        return (protocol == ICMP && version == 4) || (protocol == ICMPV6 && version == 6);
    }

    /**
     * An error about a packet this node sent, which it quotes: IPv4 destination unreachable (with
     * fragmentation needed), time exceeded, parameter problem; IPv6 destination unreachable, packet
     * too big, time exceeded, parameter problem.
     */
    boolean isIcmpError() {
        if (!isIcmp()) {
            return false;
        }
        return version == 4 ? icmpType == 3 || icmpType == 11 || icmpType == 12 : icmpType >= 1 && icmpType <= 4;
    }

    boolean isEchoRequest() {
        return isIcmp() && icmpType == (version == 4 ? 8 : 128);
    }

    boolean isEchoReply() {
        return isIcmp() && icmpType == (version == 4 ? 0 : 129);
    }

    /** Whether the protocol has ports: what a rule's ports are matched against. */
    boolean hasPorts() {
        return protocol == TCP || protocol == UDP;
    }

    private static int u16(byte[] p, int at) {
        return ((p[at] & 0xff) << 8) | (p[at + 1] & 0xff);
    }

    private static long u32(byte[] p, int at) {
        return ((long) u16(p, at) << 16) | u16(p, at + 2);
    }

    private static long u64(byte[] p, int at) {
        return (u32(p, at) << 32) | u32(p, at + 4);
    }
}
