package io.cloudbridge.masque.internal;

import io.cloudbridge.api.net.IpPrefix;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;

/**
 * Which addresses a tunnel may reach. A proxy on a relay must not become a way into the relay's
 * own networks (server-side request forgery): by default only public unicast addresses pass.
 * Loopback, link-local, private (RFC 1918, unique local), shared address space (100.64.0.0/10,
 * also the overlay's), multicast, unspecified and documentation-free special ranges, and the
 * relay's own addresses are refused unless a tenant's allow list names them. A deny entry wins
 * over everything. An IPv6 address that carries an IPv4 address (NAT64, mapped, 6to4, Teredo) is
 * judged as the IPv4 address too: that is where the packets end up.
 */
final class TargetPolicy {
    /** Special-purpose ranges refused by default, beyond what InetAddress's predicates catch. */
    private static final List<IpPrefix> SPECIAL = List.of(
            IpPrefix.parse("0.0.0.0/8"), IpPrefix.parse("100.64.0.0/10"), IpPrefix.parse("192.0.0.0/24"),
            IpPrefix.parse("198.18.0.0/15"), IpPrefix.parse("240.0.0.0/4"), IpPrefix.parse("255.255.255.255/32"),
            IpPrefix.parse("fc00::/7"), IpPrefix.parse("64:ff9b:1::/48"), IpPrefix.parse("2001:db8::/32"),
            IpPrefix.parse("100::/64"));

    record Rule(String tenant, IpPrefix prefix) {
        boolean covers(String forTenant, InetAddress address) {
            return (tenant.equals("*") || tenant.equals(forTenant)) && prefix.contains(address);
        }
    }

    private final List<Rule> allow;
    private final List<Rule> deny;
    /** The relay's own addresses, read when asked: interfaces come and go. */
    private final Supplier<Set<InetAddress>> ownAddresses;

    TargetPolicy(String[] allow, String[] deny, Supplier<Set<InetAddress>> ownAddresses) {
        this.allow = parse(allow, "allow");
        this.deny = parse(deny, "deny");
        this.ownAddresses = ownAddresses;
    }

    private static List<Rule> parse(String[] entries, String what) {
        List<Rule> rules = new ArrayList<>();
        for (String entry : entries) {
            int eq = entry.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("masque." + what + " entry '" + entry + "' is not 'tenant=prefix'");
            }
            rules.add(new Rule(entry.substring(0, eq).trim(), IpPrefix.parse(entry.substring(eq + 1).trim())));
        }
        return List.copyOf(rules);
    }

    /**
     * Why {@code tenant} may not reach {@code address}; {@code null} when it may. An IPv6 address
     * that carries an IPv4 address (see {@link #embedded}) is judged as that IPv4 address, which is
     * where the network sends it: a deny of either wins, an allow entry naming the IPv6 form opens
     * it as written, and otherwise the IPv4 address must pass on its own.
     */
    String refusal(String tenant, InetAddress address) {
        List<Embedded> inside = embedded(address);
        for (Rule r : deny) {
            if (r.covers(tenant, address)) {
                return "denied by masque.deny " + r.tenant() + "=" + r.prefix();
            }
            for (Embedded e : inside) {
                if (r.covers(tenant, e.v4())) {
                    return "denied by masque.deny " + r.tenant() + "=" + r.prefix() + e.describe(address);
                }
            }
        }
        for (Rule r : allow) {
            if (r.covers(tenant, address)) {
                return null;
            }
        }
        for (Embedded e : inside) {
            String why = refusal(tenant, e.v4());
            if (why != null) {
                return why + e.describe(address);
            }
        }
        String special = special(address);
        if (special != null) {
            return special + " addresses are not reachable through this proxy (masque.allow can open them to a tenant)";
        }
        if (ownAddresses.get().contains(address)) {
            return "the relay's own addresses are not reachable through this proxy";
        }
        return null;
    }

    /** An IPv4 address inside an IPv6 one, and the form that carries it. */
    record Embedded(Inet4Address v4, String form) {
        String describe(InetAddress outer) {
            return " (" + outer.getHostAddress() + " is " + form + " for " + v4.getHostAddress() + ")";
        }
    }

    /**
     * The IPv4 addresses that an IPv6 address carries where some part of the network sends to
     * them: NAT64's well-known prefix 64:ff9b::/96 (RFC 6052; an IPv6-only relay behind NAT64
     * reaches the IPv4 address), IPv4-mapped ::ffff:0:0/96 (the kernel sends IPv4), the deprecated
     * IPv4-compatible ::/96 (RFC 4291; automatic tunnels send to it), 6to4 2002::/16 (RFC 3056;
     * a 6to4 route encapsulates to the IPv4 address in bits 16 to 47) and Teredo 2001::/32
     * (RFC 4380; the server's address in bits 32 to 63, the client's inverted in the last 32).
     * A public IPv4 address inside passes as it would on its own. RFC 8215's local-use prefix
     * 64:ff9b:1::/48 is refused whole in SPECIAL instead: its operator picks the prefix length,
     * so the IPv4 address may sit at any RFC 6052 position. Network-specific NAT64 prefixes are
     * the operator's to deny (masque.deny), as the proxy cannot tell them from public addresses.
     */
    static List<Embedded> embedded(InetAddress address) {
        if (!(address instanceof Inet6Address)) {
            return List.of();
        }
        byte[] b = address.getAddress();
        int w0 = word(b, 0);
        int w1 = word(b, 2);
        if (zero(b, 0, 10) && word(b, 10) == 0xffff) {
            return List.of(v4(b, 12, false, "IPv4-mapped"));
        }
        if (zero(b, 0, 12) && !(zero(b, 12, 15) && (b[15] & 0xff) <= 1)) { // :: and ::1 are themselves, judged below
            return List.of(v4(b, 12, false, "IPv4-compatible"));
        }
        if (w0 == 0x64 && w1 == 0xff9b && zero(b, 4, 12)) {
            return List.of(v4(b, 12, false, "NAT64 (64:ff9b::/96)"));
        }
        if (w0 == 0x2002) {
            return List.of(v4(b, 2, false, "6to4"));
        }
        if (w0 == 0x2001 && w1 == 0) {
            return List.of(v4(b, 4, false, "Teredo (server)"), v4(b, 12, true, "Teredo (client)"));
        }
        return List.of();
    }

    private static int word(byte[] b, int at) {
        return ((b[at] & 0xff) << 8) | (b[at + 1] & 0xff);
    }

    private static boolean zero(byte[] b, int from, int to) {
        for (int i = from; i < to; i++) {
            if (b[i] != 0) {
                return false;
            }
        }
        return true;
    }

    private static Embedded v4(byte[] b, int at, boolean inverted, String form) {
        byte[] v4 = java.util.Arrays.copyOfRange(b, at, at + 4);
        if (inverted) {
            for (int i = 0; i < 4; i++) {
                v4[i] = (byte) ~v4[i];
            }
        }
        try {
            return new Embedded((Inet4Address) InetAddress.getByAddress(v4), form);
        } catch (java.net.UnknownHostException impossible) {
            throw new IllegalStateException("four bytes are an IPv4 address", impossible);
        }
    }

    private static String special(InetAddress a) {
        if (a.isLoopbackAddress()) {
            return "loopback";
        }
        if (a.isLinkLocalAddress()) {
            return "link-local";
        }
        if (a.isSiteLocalAddress()) {
            return "private";
        }
        if (a.isMulticastAddress()) {
            return "multicast";
        }
        if (a.isAnyLocalAddress()) {
            return "unspecified";
        }
        for (IpPrefix p : SPECIAL) {
            if (p.contains(a)) {
                return "special-purpose (" + p + ")";
            }
        }
        return null;
    }
}
