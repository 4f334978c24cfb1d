package io.cloudbridge.masque.internal;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The payloads of CONNECT-IP's capsules (RFC 9484 section 4.7): ADDRESS_ASSIGN and
 * ADDRESS_REQUEST hold {@code Request ID (i), IP Version (8), IP Address (32..128), IP Prefix
 * Length (8)} entries; ROUTE_ADVERTISEMENT holds {@code IP Version (8), Start IP Address, End IP
 * Address, IP Protocol (8)} ranges. A malformed payload aborts the stream, as the RFC requires.
 */
final class IpCapsules {

    /** One address assigned (or asked for); request id 0 for one nobody asked for. */
    record AssignedAddress(long requestId, InetAddress address, int prefixLength) {
        AssignedAddress {
            int bits = address.getAddress().length * 8;
            if (prefixLength < 0 || prefixLength > bits) {
                throw new IllegalArgumentException("prefix length " + prefixLength + " for an address of " + bits + " bits");
            }
        }
    }

    /** A range of addresses the sender routes, for one IP protocol (0: all). */
    record AddressRange(InetAddress start, InetAddress end, int ipProtocol) {
        AddressRange {
            if (start.getAddress().length != end.getAddress().length) {
                throw new IllegalArgumentException("a range from " + start + " to " + end + " mixes address families");
            }
            if (Arrays.compareUnsigned(start.getAddress(), end.getAddress()) > 0) {
                throw new IllegalArgumentException("a range whose start " + start + " is above its end " + end);
            }
            if (ipProtocol < 0 || ipProtocol > 255) {
                throw new IllegalArgumentException("IP protocol " + ipProtocol);
            }
        }

        int version() {
            return start instanceof Inet4Address ? 4 : 6;
        }
    }

    private IpCapsules() {
    }

    static ByteBuf encodeAddresses(ByteBufAllocator alloc, List<AssignedAddress> addresses) {
        ByteBuf out = alloc.buffer();
        for (AssignedAddress a : addresses) {
            VarInt.write(out, a.requestId());
            out.writeByte(a.address() instanceof Inet4Address ? 4 : 6);
            out.writeBytes(a.address().getAddress());
            out.writeByte(a.prefixLength());
        }
        return out;
    }

    /** Reads an ADDRESS_ASSIGN or ADDRESS_REQUEST payload to its end. */
    static List<AssignedAddress> decodeAddresses(ByteBuf in) throws Capsules.MalformedCapsuleException {
        List<AssignedAddress> out = new ArrayList<>();
        while (in.isReadable()) {
            long requestId = VarInt.read(in);
            if (requestId == VarInt.INCOMPLETE) {
                throw truncated("request id");
            }
            InetAddress address = readAddress(in);
            if (!in.isReadable()) {
                throw truncated("prefix length");
            }
            int prefix = in.readUnsignedByte();
            try {
                out.add(new AssignedAddress(requestId, address, prefix));
            } catch (IllegalArgumentException e) {
                throw new Capsules.MalformedCapsuleException(e.getMessage());
            }
        }
        return out;
    }

    /** Encodes ranges, which must already be in the order the RFC requires (see {@link #decodeRoutes}). */
    static ByteBuf encodeRoutes(ByteBufAllocator alloc, List<AddressRange> ranges) {
        ByteBuf out = alloc.buffer();
        for (AddressRange r : ranges) {
            out.writeByte(r.version());
            out.writeBytes(r.start().getAddress());
            out.writeBytes(r.end().getAddress());
            out.writeByte(r.ipProtocol());
        }
        return out;
    }

    /**
     * Reads a ROUTE_ADVERTISEMENT payload, checking what RFC 9484 section 4.7.3 asks of a
     * receiver: ranges ordered by IP version, then IP protocol, then start address, and no two
     * ranges of the same version and protocol overlapping.
     */
    static List<AddressRange> decodeRoutes(ByteBuf in) throws Capsules.MalformedCapsuleException {
        List<AddressRange> out = new ArrayList<>();
        AddressRange previous = null;
        while (in.isReadable()) {
            int version = in.getUnsignedByte(in.readerIndex());
            InetAddress start = readAddress(in);
            int length = version == 4 ? 4 : 16;
            if (in.readableBytes() < length + 1) {
                throw truncated("range end");
            }
            byte[] endBytes = new byte[length];
            in.readBytes(endBytes);
            int protocol = in.readUnsignedByte();
            AddressRange range;
            try {
                range = new AddressRange(start, address(endBytes), protocol);
            } catch (IllegalArgumentException | UnknownHostException e) {
                throw new Capsules.MalformedCapsuleException(e.getMessage());
            }
            if (previous != null) {
                int order = Integer.compare(previous.version(), range.version());
                if (order == 0) {
                    order = Integer.compare(previous.ipProtocol(), range.ipProtocol());
                }
                if (order == 0) {
                    if (Arrays.compareUnsigned(previous.end().getAddress(), range.start().getAddress()) >= 0) {
                        throw new Capsules.MalformedCapsuleException("route ranges out of order or overlapping: "
                                + previous.start().getHostAddress() + "-" + previous.end().getHostAddress() + " then "
                                + range.start().getHostAddress() + "-" + range.end().getHostAddress());
                    }
                } else if (order > 0) {
                    throw new Capsules.MalformedCapsuleException("route ranges not ordered by IP version and protocol");
                }
            }
            out.add(range);
            previous = range;
        }
        return out;
    }

    private static InetAddress readAddress(ByteBuf in) throws Capsules.MalformedCapsuleException {
        if (!in.isReadable()) {
            throw truncated("IP version");
        }
        int version = in.readUnsignedByte();
        int length = switch (version) {
            case 4 -> 4;
            case 6 -> 16;
            default -> throw new Capsules.MalformedCapsuleException("IP version " + version + " (4 or 6)");
        };
        if (in.readableBytes() < length) {
            throw truncated("IPv" + version + " address");
        }
        byte[] bytes = new byte[length];
        in.readBytes(bytes);
        try {
            return address(bytes);
        } catch (UnknownHostException e) {
            throw new Capsules.MalformedCapsuleException(e.getMessage());
        }
    }

    /** 16 bytes stay IPv6 even when IPv4-mapped (InetAddress.getByAddress would make them IPv4). */
    private static InetAddress address(byte[] bytes) throws UnknownHostException {
        return bytes.length == 16 ? java.net.Inet6Address.getByAddress(null, bytes, null) : InetAddress.getByAddress(bytes);
    }

    private static Capsules.MalformedCapsuleException truncated(String what) {
        return new Capsules.MalformedCapsuleException("capsule payload truncated in its " + what);
    }
}
