package io.cloudbridge.api.net;

import java.net.InetAddress;
import java.net.UnknownHostException;

/**
 * An IPv4 or IPv6 prefix such as {@code 100.64.0.0/10} or {@code fd7a::/48}, normalised so that
 * the host bits are zero.
 *
 * @param address the network address
 * @param length  the prefix length in bits
 */
public record IpPrefix(InetAddress address, int length) {

    public IpPrefix {
        int bits = address.getAddress().length * 8;
        if (length < 0 || length > bits) {
            throw new IllegalArgumentException("prefix length " + length + " is outside 0.." + bits);
        }
        address = mask(address, length);
    }

    /** Parses {@code address/length}; a bare address is a host prefix (/32 or /128). */
    public static IpPrefix parse(String text) {
        int slash = text.indexOf('/');
        String host = slash < 0 ? text : text.substring(0, slash);
        if (!isAddressLiteral(host)) {
            throw new IllegalArgumentException("not an IP prefix: " + text); // never a DNS look-up
        }
        InetAddress address;
        try {
            address = InetAddress.getByName(host);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("not an IP prefix: " + text, e);
        }
        int bits = address.getAddress().length * 8;
        int length;
        try {
            length = slash < 0 ? bits : Integer.parseInt(text.substring(slash + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not an IP prefix: " + text, e);
        }
        return new IpPrefix(address, length);
    }

    /**
     * Whether {@code text} is an IP address literal (dotted-quad IPv4, or IPv6 with colons), so
     * that resolving it can never turn into a name look-up ("dead.beef" is a name).
     */
    public static boolean isAddressLiteral(String text) {
        return text.matches("\\d{1,3}(\\.\\d{1,3}){3}") || (text.contains(":") && text.matches("[0-9a-fA-F:.]+"));
    }

    public boolean contains(InetAddress candidate) {
        byte[] a = address.getAddress(); // already masked
        byte[] c = candidate.getAddress();
        if (a.length != c.length) {
            return false;
        }
        // Byte by byte under the mask, without a masked copy: CONNECT-IP asks this for every packet.
        for (int i = 0; i < a.length; i++) {
            int keep = Math.max(0, Math.min(8, length - i * 8));
            if (((c[i] ^ a[i]) & (0xff << (8 - keep)) & 0xff) != 0) {
                return false;
            }
        }
        return true;
    }

    private static InetAddress mask(InetAddress address, int length) {
        byte[] b = address.getAddress();
        for (int i = 0; i < b.length; i++) {
            int keep = Math.max(0, Math.min(8, length - i * 8));
            b[i] &= (byte) (0xff << (8 - keep));
        }
        try {
            return InetAddress.getByAddress(b);
        } catch (UnknownHostException impossible) {
            throw new IllegalStateException(impossible);
        }
    }

    @Override
    public String toString() {
        return address.getHostAddress() + "/" + length;
    }
}
