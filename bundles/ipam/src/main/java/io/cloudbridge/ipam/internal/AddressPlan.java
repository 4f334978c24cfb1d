package io.cloudbridge.ipam.internal;

import io.cloudbridge.api.net.IpPrefix;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.security.SecureRandom;

/**
 * The arithmetic of the pools: tenant slot n is the n-th IPv4 block of {@code /tenantIpv4PrefixLength}
 * in the IPv4 pool and the n-th /64 in the IPv6 pool; host number h is block + h in both.
 */
final class AddressPlan {
    static final int TENANT_IPV6_PREFIX_LENGTH = 64;

    private final IpPrefix ipv4Pool;
    private final int tenantIpv4PrefixLength;
    private final IpPrefix ipv6Pool;
    private final int maxTenants;
    private final int hostsPerTenant;

    AddressPlan(IpPrefix ipv4Pool, int tenantIpv4PrefixLength, IpPrefix ipv6Pool) {
        if (!(ipv4Pool.address() instanceof Inet4Address)) {
            throw new IllegalArgumentException("ipv4Pool " + ipv4Pool + " is not an IPv4 prefix");
        }
        if (!(ipv6Pool.address() instanceof Inet6Address)) {
            throw new IllegalArgumentException("ipv6Pool " + ipv6Pool + " is not an IPv6 prefix");
        }
        // /31 and /32 leave no host once the network and broadcast addresses are skipped.
        if (tenantIpv4PrefixLength < ipv4Pool.length() || tenantIpv4PrefixLength > 30) {
            throw new IllegalArgumentException("tenantIpv4PrefixLength " + tenantIpv4PrefixLength + " must lie within "
                    + ipv4Pool.length() + "..30 for the pool " + ipv4Pool);
        }
        if (ipv6Pool.length() > TENANT_IPV6_PREFIX_LENGTH) {
            throw new IllegalArgumentException("ipv6Pool " + ipv6Pool + " is longer than the /64 each tenant gets");
        }
        this.ipv4Pool = ipv4Pool;
        this.tenantIpv4PrefixLength = tenantIpv4PrefixLength;
        this.ipv6Pool = ipv6Pool;
        this.maxTenants = (int) Math.min(Math.min(blocks(tenantIpv4PrefixLength - ipv4Pool.length()),
                blocks(TENANT_IPV6_PREFIX_LENGTH - ipv6Pool.length())), Integer.MAX_VALUE);
        this.hostsPerTenant = (1 << (32 - tenantIpv4PrefixLength)) - 2;
    }

    private static long blocks(int bits) {
        return bits >= 62 ? Long.MAX_VALUE : 1L << bits;
    }

    /** A random RFC 4193 unique local /48: fd00::/8 and a 40-bit global ID. */
    static IpPrefix randomUla(SecureRandom random) {
        byte[] b = new byte[16];
        byte[] globalId = new byte[5];
        random.nextBytes(globalId);
        b[0] = (byte) 0xfd;
        System.arraycopy(globalId, 0, b, 1, 5);
        return new IpPrefix(address(b), 48);
    }

    IpPrefix ipv4Pool() {
        return ipv4Pool;
    }

    int tenantIpv4PrefixLength() {
        return tenantIpv4PrefixLength;
    }

    IpPrefix ipv6Pool() {
        return ipv6Pool;
    }

    int maxTenants() {
        return maxTenants;
    }

    /** Host numbers run 1..hostsPerTenant. */
    int hostsPerTenant() {
        return hostsPerTenant;
    }

    IpPrefix ipv4Block(int slot) {
        return new IpPrefix(ipv4(slot, 0), tenantIpv4PrefixLength);
    }

    IpPrefix ipv6Subnet(int slot) {
        return new IpPrefix(ipv6(slot, 0), TENANT_IPV6_PREFIX_LENGTH);
    }

    Inet4Address ipv4(int slot, int host) {
        long base = Integer.toUnsignedLong(ByteBuffer.wrap(ipv4Pool.address().getAddress()).getInt());
        long value = base + ((long) slot << (32 - tenantIpv4PrefixLength)) + host;
        return (Inet4Address) address(ByteBuffer.allocate(4).putInt((int) value).array());
    }

    Inet6Address ipv6(int slot, int host) {
        ByteBuffer pool = ByteBuffer.wrap(ipv6Pool.address().getAddress());
        // The pool is at most /64, so the slot fits in the bits between its length and 64.
        long network = pool.getLong(0) | Integer.toUnsignedLong(slot);
        byte[] b = ByteBuffer.allocate(16).putLong(network).putLong(Integer.toUnsignedLong(host)).array();
        try {
            // getByAddress(byte[]) would turn an IPv4-mapped result into an Inet4Address.
            return Inet6Address.getByAddress(null, b, -1);
        } catch (UnknownHostException impossible) {
            throw new IllegalStateException(impossible);
        }
    }

    private static InetAddress address(byte[] b) {
        try {
            return InetAddress.getByAddress(b);
        } catch (UnknownHostException impossible) {
            throw new IllegalStateException(impossible);
        }
    }
}
