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

    Optional<Lease> lease(String tenant, NodeKey node);

    List<Lease> leases(String tenant);

    /** Returns whether the node held a lease. */
    boolean release(String tenant, NodeKey node);

    /**
     * The tenant's own prefixes (IPv4 and IPv6), which its nodes' addresses are in and which its
     * overlay routes; empty when the tenant has none yet.
     */
    default List<IpPrefix> prefixes(String tenant) {
        return List.of();
    }
}
