/**
 * A tenant's access policy: who may reach whom, on which protocols and ports. On the relay, a
 * {@link io.cloudbridge.api.policy.PolicyCompiler} reads an operator's policy file, checks it and
 * compiles it against the tenant's members into a {@link io.cloudbridge.api.policy.NodeFilter} for
 * each node; on a node, {@link io.cloudbridge.api.policy.NodeFilters} takes the filter the network
 * map carries and {@link io.cloudbridge.api.policy.PacketFilter} enforces it on the overlay's
 * decrypted packets, statefully.
 */
@Export
@Version("1.0.0")
package io.cloudbridge.api.policy;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
