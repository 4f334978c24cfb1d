package io.cloudbridge.control.relay.internal;

import com.google.protobuf.ByteString;
import io.cloudbridge.api.net.IpPrefix;
import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.api.relay.OverlayMembers;
import io.cloudbridge.control.v1.Peer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Members of a tenant's overlay inside the relay (its CONNECT-IP gateway), published in the
 * tenant's network map as registered nodes are, without a node record: a member is in the map while
 * the part of the relay that made it runs. Its key, though, is reserved in the database at its
 * first join and stays reserved: the member keeps its key and its lease while it is closed and
 * across restarts, and its key was in every peer's map, so a node of the tenant must not be able to
 * register it in the meantime and take the member's addresses and its place in the data plane.
 */
final class RelayMembers implements OverlayMembers {
    private static final Logger LOG = LoggerFactory.getLogger(RelayMembers.class);

    private final NetworkMaps maps;
    private final RelayState state;
    private final io.cloudbridge.store.Durability durability;
    private final String homeRelay;

    RelayMembers(NetworkMaps maps, RelayState state, io.cloudbridge.store.Durability durability, String homeRelay) {
        this.maps = maps;
        this.state = state;
        this.durability = durability;
        this.homeRelay = homeRelay;
    }

    @Override
    public Membership join(String tenant, NodeKey key, String name, List<IpPrefix> allowedIps, Consumer<List<Member>> peers) {
        return join(tenant, key, name, allowedIps, peers, null);
    }

    @Override
    public Membership join(String tenant, NodeKey key, String name, List<IpPrefix> allowedIps, Consumer<List<Member>> peers,
            Consumer<io.cloudbridge.api.policy.NodeFilter> filters) {
        // A stable id per tenant and key: the same member after a restart of the relay is the same peer.
        String nodeId = UUID.nameUUIDFromBytes((tenant + "/" + key).getBytes(StandardCharsets.UTF_8)).toString();
        reserve(tenant, key, nodeId, name);
        maps.upsert(tenant, entry(nodeId, key, name, allowedIps));
        Runnable stop = maps.listen(tenant, all -> {
            List<Member> others = new ArrayList<>(all.size());
            for (Peer p : all) {
                if (!p.getNodeId().equals(nodeId)) {
                    Member m = member(p);
                    if (m != null) {
                        others.add(m);
                    }
                }
            }
            peers.accept(others);
        });
        Runnable stopFilters = filters == null ? () -> { } : maps.clientFilters(tenant, nodeId, filters);
        LOG.info("{} joined tenant {}'s overlay as {} ({})", name, tenant, nodeId, allowedIps);
        return new Membership() {
            private volatile boolean closed;

            @Override
            public String nodeId() {
                return nodeId;
            }

            @Override
            public void allowedIps(List<IpPrefix> now) {
                if (!closed) {
                    maps.upsert(tenant, entry(nodeId, key, name, now));
                }
            }

            @Override
            public void clients(List<IpPrefix> now, List<Client> clients) {
                if (!closed) {
                    maps.upsert(tenant, entry(nodeId, key, name, now, clients));
                }
            }

            @Override
            public void close() {
                if (!closed) {
                    closed = true;
                    stopFilters.run();
                    stop.run();
                    maps.remove(tenant, nodeId);
                    LOG.info("{} left tenant {}'s overlay", name, tenant);
                }
            }
        };
    }

    /**
     * The key reserved for the member before it is published (and flushed: the reservation must
     * outlive a crash as the lease does). A key a node holds is refused rather than shared: two
     * peers with one key in the map, one of them able to take the other's port.
     */
    private void reserve(String tenant, NodeKey key, String nodeId, String name) {
        java.util.Optional<String> holder;
        try {
            holder = state.reserveMemberKey(tenant, key.toBase64(), nodeId, name, java.time.Instant.now());
            durability.sync();
        } catch (java.sql.SQLException e) {
            throw new IllegalStateException("the relay's database failed reserving the key of " + name + " in tenant " + tenant
                    + ": " + e.getMessage(), e);
        }
        if (holder.isPresent()) {
            ControlService.SECURITY.warn("{} of tenant {} not started: its key {} is registered by node {}", name, tenant, key,
                    holder.get());
            throw new IllegalStateException(name + " of tenant " + tenant + " cannot join: its key is registered by node "
                    + holder.get() + "; remove that node (relay:node delete " + holder.get() + ") to give the key back");
        }
    }

    /**
     * The member's map entry, for a member that names no clients of its own: as a policy names it,
     * it is its name and the single addresses among its allowed IPs.
     */
    private NetworkMaps.Entry entry(String nodeId, NodeKey key, String name, List<IpPrefix> allowedIps) {
        List<java.net.InetAddress> addresses = new ArrayList<>();
        for (IpPrefix p : allowedIps) {
            if (p.length() == p.address().getAddress().length * 8) {
                addresses.add(p.address());
            }
        }
        return new NetworkMaps.Entry(peer(nodeId, key, name, allowedIps), new io.cloudbridge.api.policy.Member(nodeId, name, "",
                java.util.Set.of(), java.util.Set.of(), addresses));
    }

    /**
     * The member's entry with the clients it stands for: each a member of the tenant's policy of
     * its own, named as the node it signed in as (that node's name, user, groups and tags) or as
     * its OpenID user and groups. The member itself is its name and its own addresses.
     */
    private NetworkMaps.Entry entry(String nodeId, NodeKey key, String name, List<IpPrefix> allowedIps, List<Client> clients) {
        java.util.Set<java.net.InetAddress> theirs = new java.util.HashSet<>();
        List<io.cloudbridge.api.policy.Member> members = new ArrayList<>();
        for (Client c : clients) {
            theirs.addAll(c.addresses());
            members.add(clientMember(nodeId, c));
        }
        List<java.net.InetAddress> own = new ArrayList<>();
        for (IpPrefix p : allowedIps) {
            if (p.length() == p.address().getAddress().length * 8 && !theirs.contains(p.address())) {
                own.add(p.address());
            }
        }
        return new NetworkMaps.Entry(peer(nodeId, key, name, allowedIps), new io.cloudbridge.api.policy.Member(nodeId, name, "",
                java.util.Set.of(), java.util.Set.of(), own), members);
    }

    private io.cloudbridge.api.policy.Member clientMember(String memberId, Client c) {
        String id = memberId + "/" + c.id();
        if (!c.nodeId().isEmpty()) {
            try {
                java.util.Optional<RelayState.Node> node = state.node(c.nodeId());
                if (node.isPresent()) {
                    RelayState.Identity who = node.get().identity();
                    return new io.cloudbridge.api.policy.Member(id, who.name(), who.user(), java.util.Set.copyOf(who.idpGroups()),
                            java.util.Set.copyOf(who.tags()), c.addresses());
                }
            } catch (java.sql.SQLException e) {
                LOG.warn("the node behind CONNECT-IP client {} could not be read ({}): the policy names it by nothing", c.id(),
                        e.toString());
            }
            // A node removed meanwhile (its session ends with its token): named by nothing, reaching nothing.
            return new io.cloudbridge.api.policy.Member(id, "", "", java.util.Set.of(), java.util.Set.of(), c.addresses());
        }
        return new io.cloudbridge.api.policy.Member(id, "", c.user(), java.util.Set.copyOf(c.idpGroups()), java.util.Set.of(), c.addresses());
    }

    private Peer peer(String nodeId, NodeKey key, String name, List<IpPrefix> allowedIps) {
        Peer.Builder p = Peer.newBuilder().setNodeId(nodeId).setWireguardPublicKey(ByteString.copyFrom(key.toBytes()))
                .setHostname(name).setHomeRelay(homeRelay);
        allowedIps.forEach(a -> p.addOverlayAddresses(a.toString()));
        return p.build();
    }

    /** A map entry as a member, or null for one that does not parse (never expected: the relay wrote it). */
    private static Member member(Peer p) {
        try {
            List<IpPrefix> ips = new ArrayList<>();
            for (String a : p.getOverlayAddressesList()) {
                ips.add(IpPrefix.parse(a));
            }
            return new Member(p.getNodeId(), NodeKey.of(p.getWireguardPublicKey().toByteArray()), p.getHostname(), ips);
        } catch (IllegalArgumentException e) {
            LOG.warn("peer {} of the map left out of the relay's members' view: {}", p.getNodeId(), e.getMessage());
            return null;
        }
    }
}
