package io.cloudbridge.api.ipam;

import io.cloudbridge.api.net.IpPrefix;
import io.cloudbridge.api.net.NodeKey;
import java.util.List;
import java.util.Optional;
import org.osgi.annotation.versioning.ProviderType;

/**
 * Hands out overlay addresses per tenant. Allocation is idempotent: the same node in the same
 * tenant keeps its addresses across restarts and re-registrations.
 */
@ProviderType
public interface AddressAllocator {

    /** The node's lease, granting one if it has none. */
    Lease allocate(String tenant, NodeKey node) throws AddressPoolExhaustedException;

    /**
     * Leases for several nodes of one tenant at once, in the order given: what {@link #allocate}
     * does for each, in one step where the implementation can (one transaction for a burst of
     * registrations instead of one each). When the tenant's pool runs out part-way, nothing is
     * granted and the exception says so; the caller then asks node by node to learn which fit.
     */
    default List<Lease> allocateAll(String tenant, List<NodeKey> nodes) throws AddressPoolExhaustedException {
        List<Lease> out = new java.util.ArrayList<>(nodes.size());
        for (NodeKey node : nodes) {
            out.add(allocate(tenant, node));
        }
        return out;
    }

    Optional<Lease> lease(String tenant, NodeKey node);

    List<Lease> leases(String tenant);

    /** Returns whether the node held a lease. */
    boolean release(String tenant, NodeKey node);

    /**
     * Moves a node's lease to its new key (the node rotated its WireGuard key), so that it keeps
     * its addresses. Returns whether {@code from} held a lease and it moved; nothing moves when
     * {@code to} holds one already (another node's key).
     */
    boolean rekey(String tenant, NodeKey from, NodeKey to);

    /**
     * The tenant's own prefixes (IPv4 and IPv6), which its nodes' addresses are in and which its
     * overlay routes; empty when the tenant has none yet.
     */
    default List<IpPrefix> prefixes(String tenant) {
        return List.of();
    }
}
