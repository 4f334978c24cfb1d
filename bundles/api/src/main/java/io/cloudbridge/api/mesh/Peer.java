package io.cloudbridge.api.mesh;

import io.cloudbridge.api.net.IpPrefix;
import io.cloudbridge.api.net.NodeKey;
import java.net.InetSocketAddress;
import java.util.List;

/**
 * Another node of this node's tenant, as the network map describes it.
 *
 * @param key        its WireGuard public key
 * @param name       its host name
 * @param allowedIps the overlay prefixes it may send from and that are routed to it
 * @param endpoints  the UDP endpoints it reported (host and reflexive); may be empty
 */
public record Peer(NodeKey key, String name, List<IpPrefix> allowedIps, List<InetSocketAddress> endpoints) {

    public Peer {
        allowedIps = List.copyOf(allowedIps);
        endpoints = List.copyOf(endpoints);
    }
}
