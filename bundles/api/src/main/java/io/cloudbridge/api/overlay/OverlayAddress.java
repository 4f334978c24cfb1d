package io.cloudbridge.api.overlay;

import java.net.InetAddress;
import java.util.Objects;

/**
 * An address of the node's own on the overlay interface, with the length of the prefix it is on
 * (the tenant's): {@code 100.64.0.7/18}. Unlike an {@link io.cloudbridge.api.net.IpPrefix}, the
 * host part is kept.
 */
public record OverlayAddress(InetAddress address, int prefixLength) {
    public OverlayAddress {
        Objects.requireNonNull(address, "address");
        int max = address.getAddress().length * 8;
        if (prefixLength < 0 || prefixLength > max) {
            throw new IllegalArgumentException("prefix length " + prefixLength + " for " + address.getHostAddress());
        }
    }

    /** Reads {@code ADDRESS/LENGTH}; a bare address is a host route (/32, /128). */
    public static OverlayAddress parse(String text) {
        int slash = text.indexOf('/');
        try {
            InetAddress a = InetAddress.getByName(slash < 0 ? text.trim() : text.substring(0, slash).trim());
            int length = slash < 0 ? a.getAddress().length * 8 : Integer.parseInt(text.substring(slash + 1).trim());
            return new OverlayAddress(a, length);
        } catch (java.net.UnknownHostException | NumberFormatException e) {
            throw new IllegalArgumentException("not an address with a prefix length: " + text, e);
        }
    }

    @Override
    public String toString() {
        return address.getHostAddress() + "/" + prefixLength;
    }
}
