package io.cloudbridge.ice.internal;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.Locale;

/**
 * One ICE candidate (RFC 8445 section 5.1): a transport address that may reach this node or a
 * peer, its type and its priority. All of a node's candidates share the overlay's one socket, so
 * a local candidate's base is always that socket.
 */
record Candidate(Type type, InetSocketAddress address, long priority) {

    /** The candidate types, with RFC 8445's recommended type preferences. */
    enum Type {
        HOST("host", 126), PRFLX("prflx", 110), SRFLX("srflx", 100), RELAY("relay", 0);

        final String token;
        final int preference;

        Type(String token, int preference) {
            this.token = token;
            this.preference = preference;
        }

        static Type of(String token) {
            for (Type t : values()) {
                if (t.token.equals(token)) {
                    return t;
                }
            }
            throw new IllegalArgumentException("unknown candidate type '" + token + "'");
        }
    }

    Candidate {
        if (address.isUnresolved()) {
            throw new IllegalArgumentException("a candidate needs an IP address, not a name: " + address);
        }
    }

    /** RFC 8445 5.1.2.1 for component 1; IPv4 before IPv6 (the overlay's relay speaks v4 first), then the order gathered. */
    static long priority(Type type, InetAddress address, int order) {
        int localPreference = (address instanceof java.net.Inet4Address ? 65_535 : 32_767) - Math.min(order, 1000);
        return ((long) type.preference << 24) + ((long) localPreference << 8) + (256 - 1);
    }

    /** A pair's priority (RFC 8445 6.1.2.3), from the controlling agent's candidate G and the controlled's D. */
    static long pairPriority(long controlling, long controlled) {
        return (Math.min(controlling, controlled) << 32) + 2 * Math.max(controlling, controlled) + (controlling > controlled ? 1 : 0);
    }

    /** The SDP-style line (RFC 8839 5.1) offers carry; the foundation is the type (one base per node). */
    String toLine() {
        return String.format(Locale.ROOT, "candidate:%s 1 udp %d %s %d typ %s", type.token, priority,
                address.getAddress().getHostAddress(), address.getPort(), type.token);
    }

    /** Parses {@link #toLine}'s form; only what it needs, with a clear error for anything else. */
    static Candidate parse(String line) {
        String[] f = line.trim().split(" +");
        if (f.length < 8 || !f[0].startsWith("candidate:") || !"1".equals(f[1]) || !"udp".equalsIgnoreCase(f[2])
                || !"typ".equals(f[6])) {
            throw new IllegalArgumentException("not a UDP candidate line for component 1: '" + line + "'");
        }
        long priority;
        int port;
        try {
            priority = Long.parseLong(f[3]);
            port = Integer.parseInt(f[5]);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("bad priority or port in '" + line + "'");
        }
        if (priority < 1 || priority > 0xFFFF_FFFFL || port < 1 || port > 65_535) {
            throw new IllegalArgumentException("priority or port out of range in '" + line + "'");
        }
        if (!io.cloudbridge.api.net.IpPrefix.isAddressLiteral(f[4])) {
            throw new IllegalArgumentException("not an IP address literal: '" + f[4] + "'"); // no name lookups for a peer
        }
        InetAddress address;
        try {
            address = InetAddress.getByName(f[4]);
        } catch (java.net.UnknownHostException e) {
            throw new IllegalArgumentException("not an IP address: '" + f[4] + "'");
        }
        return new Candidate(Type.of(f[7]), new InetSocketAddress(address, port), priority);
    }

    @Override
    public String toString() {
        return type.token + " " + address.getAddress().getHostAddress() + ":" + address.getPort();
    }
}
