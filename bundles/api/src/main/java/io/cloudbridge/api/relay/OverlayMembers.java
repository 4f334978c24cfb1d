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

    /**
     * As {@link #join(String, NodeKey, String, List, Consumer)}, for a member that stands for
     * clients of its own ({@link Membership#clients}): {@code filters} hears the tenant's policy
     * compiled for their addresses, now and whenever it changes ({@code NodeFilter.OPEN} for a
     * tenant without a policy), on the control plane's thread.
     *
     * @since 1.4
     */
    Membership join(String tenant, NodeKey key, String name, List<IpPrefix> allowedIps, Consumer<List<Member>> peers,
            Consumer<io.cloudbridge.api.policy.NodeFilter> filters);

    /**
     * Someone a member stands for in its tenant (a CONNECT-IP client), as the tenant's policy names
     * it: by the node it signed in as ({@code nodeId}: that node's name, user, groups and tags), or
     * by its OpenID {@code user} and the identity provider's {@code idpGroups}.
     *
     * @param id        stable while the client is there (its session)
     * @param addresses the addresses it was given, among the member's allowed IPs
     * @since 1.4
     */
    record Client(String id, String nodeId, String user, List<String> idpGroups, List<java.net.InetAddress> addresses) {
        public Client {
            java.util.Objects.requireNonNull(id, "id");
            nodeId = nodeId == null ? "" : nodeId;
            user = user == null ? "" : user;
            idpGroups = List.copyOf(idpGroups);
            addresses = List.copyOf(addresses);
        }
    }

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

        /**
         * Publishes new allowed IPs with the clients they belong to: the tenant's policy names each
         * client by who it is, the member's peers see it when they may reach or be reached by one
         * of its clients, and the member's filter covers its clients' addresses.
         *
         * @since 1.4
         */
        void clients(List<IpPrefix> allowedIps, List<Client> clients);

        /** Leaves the map. */
        @Override
        void close();
    }
}
