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
 * over everything.
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

    /** Why {@code tenant} may not reach {@code address}; {@code null} when it may. */
    String refusal(String tenant, InetAddress address) {
        for (Rule r : deny) {
            if (r.covers(tenant, address)) {
                return "denied by masque.deny " + r.tenant() + "=" + r.prefix();
            }
        }
        for (Rule r : allow) {
            if (r.covers(tenant, address)) {
                return null;
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
        if (a instanceof Inet6Address v6) {
            byte[] b = v6.getAddress();
            boolean mapped = true;
            for (int i = 0; i < 10; i++) {
                mapped &= b[i] == 0;
            }
            if (mapped && (b[10] & 0xff) == 0xff && (b[11] & 0xff) == 0xff) {
                try {
                    // ::ffff:10.0.0.1 is 10.0.0.1 to the kernel: judge the IPv4 address inside.
                    return special(Inet4Address.getByAddress(java.util.Arrays.copyOfRange(b, 12, 16)));
                } catch (java.net.UnknownHostException impossible) {
                    return "malformed";
                }
            }
        }
        for (IpPrefix p : SPECIAL) {
            if (p.contains(a)) {
                return "special-purpose (" + p + ")";
            }
        }
        return null;
    }
}
