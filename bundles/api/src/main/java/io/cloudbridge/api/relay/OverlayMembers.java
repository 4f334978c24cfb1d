package io.cloudbridge.api.relay;

import io.cloudbridge.api.net.IpPrefix;
import io.cloudbridge.api.net.NodeKey;
import java.util.List;
import java.util.function.Consumer;
import org.osgi.annotation.versioning.ProviderType;

/**
 * Members of a tenant's overlay that live inside the relay (its CONNECT-IP gateway): published in
 * the tenant's network map like registered nodes, reachable through the relay's data plane, and
 * told the tenant's peers as they change. They leave the map when closed or when the relay stops;
 * their keys stay reserved for them (no node of the tenant may register one), since a member keeps
 * its key and its addresses across restarts.
 */
@ProviderType
public interface OverlayMembers {

    /**
     * Publishes {@code key} in {@code tenant}'s map as {@code name} with {@code allowedIps};
     * {@code peers} hears the tenant's other members now and after every change, on the control
     * plane's thread (hand long work off).
     *
     * @throws IllegalStateException when a node of the tenant holds {@code key}, or the key could
     *     not be reserved for the member
     */
    Membership join(String tenant, NodeKey key, String name, List<IpPrefix> allowedIps, Consumer<List<Member>> peers);

    /** A peer as the map shows it. */
    record Member(String nodeId, NodeKey key, String name, List<IpPrefix> allowedIps) {
        public Member {
            allowedIps = List.copyOf(allowedIps);
        }
    }

    /** One member's place in its tenant's map. */
    @ProviderType
    interface Membership extends AutoCloseable {
        /** The node id it has in the map. */
        String nodeId();

        /** Publishes new allowed IPs (a CONNECT-IP client's address came or went). */
        void allowedIps(List<IpPrefix> allowedIps);

        /** Leaves the map. */
        @Override
        void close();
    }
}
