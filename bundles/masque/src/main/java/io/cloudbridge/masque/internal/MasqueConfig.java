package io.cloudbridge.masque.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/** The 'masque' section: the relay's MASQUE proxy (HTTP/3 on its QUIC listener, ALPN h3). */
@ObjectClassDefinition(name = "MASQUE proxy", description = "CONNECT-UDP (RFC 9298) and CONNECT-IP (RFC 9484) over HTTP/3")
public @interface MasqueConfig {

    @AttributeDefinition(description = "The URI template of CONNECT-UDP requests: a path with {target_host} and {target_port}")
    String udpTemplate() default "/.well-known/masque/udp/{target_host}/{target_port}/";

    @AttributeDefinition(description = "The URI template of CONNECT-IP requests (RFC 9484): a path with {target} ('*', an "
            + "address or a prefix of the tenant's overlay) and {ipproto} ('*' or 0 to 255)")
    String ipTemplate() default "/.well-known/masque/ip/{target}/{ipproto}/";

    @AttributeDefinition(min = "1", max = "86400", description = "Seconds a tunnel may carry nothing either way before it is closed")
    int idleSeconds() default 120;

    @AttributeDefinition(min = "1", max = "100000", description = "Tunnels (CONNECT-UDP and CONNECT-IP together) one node (or "
            + "one signed-in user) may hold open at once; 429 beyond")
    int maxTunnelsPerClient() default 64;

    @AttributeDefinition(min = "1", max = "1000000", description = "CONNECT-UDP tunnels all clients of one tenant may hold open "
            + "at once (a reusable pre-auth key makes many clients); 429 beyond")
    int maxTunnelsPerTenant() default 512;

    @AttributeDefinition(min = "1", max = "1000000", description = "CONNECT-IP sessions all clients of one tenant may hold open "
            + "at once; 429 beyond")
    int maxIpSessionsPerTenant() default 128;

    @AttributeDefinition(min = "2", max = "1000000", description = "Tunnels and sessions of all tenants together (each a socket "
            + "or an overlay address, and their buffers); 503 beyond")
    int maxTunnels() default 4096;

    @AttributeDefinition(min = "0", max = "1000000", description = "The last of masque.maxTunnels that only a tenant holding no "
            + "tunnel or session may take: however full other tenants made the proxy, a tenant's first tunnel opens")
    int reservedTunnels() default 256;

    @AttributeDefinition(min = "1", max = "100000", description = "Name look-ups for CONNECT-UDP targets one tenant may have in "
            + "flight at once; 429 beyond. Each request holds its tunnel slot while its target is resolved")
    int maxResolutionsPerTenant() default 8;

    @AttributeDefinition(min = "2", max = "100000", description = "Name look-ups in flight for all tenants together; 503 beyond")
    int maxResolutions() default 256;

    @AttributeDefinition(min = "0", max = "100000", description = "The last of masque.maxResolutions that only a tenant with "
            + "no look-up in flight may take")
    int reservedResolutions() default 32;

    @AttributeDefinition(min = "100", max = "60000", description = "Milliseconds a target's name may take to resolve; past them "
            + "the request gets 504 (Proxy-Status: dns_timeout)")
    int resolveTimeoutMillis() default 5000;

    @AttributeDefinition(description = "The name servers the proxy resolves targets with, each an address with an optional "
            + "port ('192.0.2.53', '192.0.2.53:5353', '[2001:db8::53]:53'); empty: the system's (/etc/resolv.conf)")
    String[] nameservers() default {};

    @AttributeDefinition(description = "Targets a tenant may reach beyond the public internet, each 'tenant=prefix', e.g. "
            + "'lab=10.0.0.0/8' or '*=192.0.2.0/24' for every tenant. By default loopback, link-local, private, shared "
            + "(100.64.0.0/10), multicast and the relay's own addresses are refused")
    String[] allow() default {};

    @AttributeDefinition(description = "Targets a tenant may not reach, each 'tenant=prefix' ('*' for every tenant); a deny "
            + "wins over an allow")
    String[] deny() default {};

    @AttributeDefinition(description = "On a node: the MASQUE proxy its tunnels go through, as https://host:port; empty for "
            + "the home relay's (its QUIC endpoint, the relay's pinned certificate, the node's own token)")
    String proxy() default "";

    @AttributeDefinition(description = "On a node, with masque.proxy: an owner-only file holding the bearer token that proxy "
            + "takes; empty: the home relay's proxy (masque.proxy naming its QUIC endpoint's host and port) gets the node's "
            + "token, any other proxy none (the node's token goes to its relay only)")
    String proxyTokenFile() default "";

    @AttributeDefinition(description = "On a node: also carry the node's own WireGuard UDP through the proxy (the MASQUE path, "
            + "for networks where only HTTPS to the proxy gets out): hole punching tries each peer's public endpoints through "
            + "it; 'cloudbridge up --masque-proxy URL' turns it on")
    boolean wireguardPath() default false;

    @AttributeDefinition(min = "64", max = "65535", description = "The largest UDP payload a tunnel carries, in bytes; a larger "
            + "DATAGRAM capsule ends the tunnel as malformed")
    int maxPayload() default 1500;
}
