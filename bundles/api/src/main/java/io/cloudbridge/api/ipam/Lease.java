package io.cloudbridge.api.ipam;

import io.cloudbridge.api.net.NodeKey;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.time.Instant;

/**
 * Overlay addresses held by one node in one tenant.
 *
 * @param tenant  the tenant
 * @param node    the node's key
 * @param ipv4    its IPv4 overlay address
 * @param ipv6    its IPv6 overlay address
 * @param granted when the lease was first granted
 */
public record Lease(String tenant, NodeKey node, Inet4Address ipv4, Inet6Address ipv6, Instant granted) {
}
