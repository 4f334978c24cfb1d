package io.cloudbridge.ipam.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/** The {@code ipam} section: the pools tenants' overlay addresses come from. */
@ObjectClassDefinition(name = "Address management", description = "Per-tenant overlay address pools.")
public @interface IpamConfig {

    @AttributeDefinition(description = "The IPv4 pool tenants' blocks are carved from, in order of each tenant's"
            + " first allocation. Fixed once a tenant exists: changing it would renumber every node.")
    String ipv4Pool() default "100.64.0.0/10";

    @AttributeDefinition(min = "1", max = "30", description = "The prefix length of each tenant's IPv4 block;"
            + " a block of /n holds 2^(32-n)-2 nodes. Fixed once a tenant exists.")
    int tenantIpv4PrefixLength() default 18;

    @AttributeDefinition(description = "The IPv6 pool (at most /64 long; tenant n gets its n-th /64); empty for a"
            + " random RFC 4193 ULA /48, generated once and kept in the database.", required = false)
    String ipv6Pool() default "";
}
