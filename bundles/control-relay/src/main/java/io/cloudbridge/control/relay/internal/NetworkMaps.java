package io.cloudbridge.control.relay.internal;

import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.api.policy.Member;
import io.cloudbridge.api.policy.NodeFilter;
import io.cloudbridge.api.policy.PolicyCompiler;
import io.cloudbridge.control.v1.FullMap;
import io.cloudbridge.control.v1.NetworkMapUpdate;
import io.cloudbridge.control.v1.Peer;
import io.cloudbridge.control.v1.PeerRemoved;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * Every tenant's network map and the nodes watching it. A change is one delta sent to each watcher
 * of that tenant only: its cost grows with the watchers, not with watchers times peers. A watcher
 * first gets the whole map (less itself), then every delta after it, in order.
 *
 * <p>A tenant with an access policy: each watcher sees only the peers it may reach or be reached
 * by, and gets the filter for its own addresses with its first map and again whenever it changes.
 * The policy is compiled against the tenant's members and kept current as they change (only what
 * a changed member changes is computed again); a peer that becomes visible is sent whole, one that
 * stops being visible is sent as removed, and a peer that was never visible is never named.
 *
 * <p>A watcher that stops reading is not buffered for without bound: past {@link #MAX_BEHIND}
 * unsent updates its stream is ended, and it comes back for a fresh full map.
 */
final class NetworkMaps {
    static final int MAX_BEHIND = 1024;

    private final Map<String, TenantMap> tenants = new ConcurrentHashMap<>();
    private final Function<String, List<Entry>> loader;
    private final Function<String, TenantPolicy> policies;

    /**
     * A peer of the map, who it is as the tenant's policy names it, and whom it stands for (a
     * CONNECT-IP gateway's clients, each a member of the policy with its own addresses).
     */
    record Entry(Peer peer, Member member, List<Member> clients) {
        Entry {
            clients = List.copyOf(clients);
        }

        Entry(Peer peer, Member member) {
            this(peer, member, List.of());
        }
    }

    /** A tenant's policy in force, parsed, and its version; {@link #NONE}: everyone sees and reaches everyone. */
    record TenantPolicy(long version, PolicyCompiler.Policy policy) {
        static final TenantPolicy NONE = new TenantPolicy(0, null);
    }

    /**
     * @param loader   the tenant's peers as stored, read when a tenant's map is first needed
     * @param policies the tenant's policy in force, read at the same moment
     */
    NetworkMaps(Function<String, List<Entry>> loader, Function<String, TenantPolicy> policies) {
        this.loader = loader;
        this.policies = policies;
    }

    private TenantMap tenant(String tenant) {
        return tenants.computeIfAbsent(tenant, t -> new TenantMap(loader.apply(t), policies.apply(t)));
    }

    void upsert(String tenant, Entry entry) {
        tenant(tenant).change(entry.peer().getNodeId(), entry);
    }

    void remove(String tenant, String nodeId) {
        tenant(tenant).change(nodeId, null);
    }

    /**
     * A peer's new entry in the map (its endpoints, say) without a word about who it is: the member
     * the map has stays, so that a heartbeat read before an administrator's tag cannot put the old
     * tags back.
     */
    void updatePeer(String tenant, Peer peer) {
        tenant(tenant).updatePeer(peer);
    }

    /** Puts a tenant's new policy in force: every watcher's map and filter follow at once. */
    void policy(String tenant, TenantPolicy policy) {
        tenant(tenant).policy(policy);
    }

    /** The tenant's policy compiled against its members now; null without a policy. */
    PolicyCompiler.CompiledPolicy compiled(String tenant) {
        return tenant(tenant).compiled();
    }

    /** The tenant's members now, as a policy names them (CONNECT-IP clients among them). */
    List<Member> members(String tenant) {
        return tenant(tenant).members();
    }

    /**
     * Tells {@code listener} the filter for the clients of the peer {@code nodeId} stands for, now
     * and whenever it changes, on the changing thread; the returned action stops it. For members
     * inside the relay that police their clients' packets (the CONNECT-IP gateway).
     */
    Runnable clientFilters(String tenant, String nodeId, java.util.function.Consumer<NodeFilter> listener) {
        TenantMap map = tenant(tenant);
        map.listenToFilter(nodeId, listener);
        return () -> map.stopFilter(nodeId, listener);
    }

    /**
     * Starts sending {@code nodeId}'s tenant map to it: the whole map now, each change after.
     * {@code cancelled} runs too when the node cancels the stream. Returns what ends this stream
     * (and only this one) with a status: its credential was revoked.
     */
    java.util.function.Consumer<Status> watch(String tenant, String nodeId, ServerCallStreamObserver<NetworkMapUpdate> stream,
            Runnable cancelled) {
        TenantMap map = tenant(tenant);
        Watcher w = new Watcher(nodeId, stream);
        stream.setOnCancelHandler(() -> {
            map.watchers.remove(w);
            cancelled.run();
        });
        // One map stream per node: a newer one replaces the older (a node that reconnects, or one
        // that opens streams to make the relay hold maps for it).
        for (Watcher old : List.copyOf(map.watchers.keySet())) {
            if (old.nodeId.equals(nodeId)) {
                map.watchers.remove(old);
                old.end(Status.ABORTED.withDescription("replaced by a newer map stream"));
            }
        }
        map.subscribe(w);
        return status -> {
            if (map.watchers.remove(w) != null) {
                w.end(status);
            }
        };
    }

    /**
     * Tells {@code listener} the tenant's peers now and after every change, in order, on the
     * changing thread (it must be quick); the returned action stops it. For members inside the
     * relay, which have no map stream.
     */
    Runnable listen(String tenant, java.util.function.Consumer<List<Peer>> listener) {
        TenantMap map = tenant(tenant);
        map.listen(listener);
        return () -> map.listeners.remove(listener);
    }

    /** The id under which the tenant's map has this key, if it has it (a node's, or a member's inside the relay). */
    Optional<String> holder(String tenant, NodeKey key) {
        return tenant(tenant).holder(key);
    }

    int watchers(String tenant) {
        TenantMap map = tenants.get(tenant);
        return map == null ? 0 : map.watchers.size();
    }

    private static final class TenantMap {
        private final Map<String, Peer> peers = new LinkedHashMap<>();
        private final Map<String, Member> members = new LinkedHashMap<>();
        /** The clients each peer stands for (a gateway's), by the peer's id; peers without clients have no entry. */
        private final Map<String, List<Member>> clients = new java.util.HashMap<>();
        /** Who polices each peer's clients, and the filter it was told last. */
        private final Map<String, java.util.function.Consumer<NodeFilter>> filterListeners = new java.util.HashMap<>();
        private final Map<String, NodeFilter> filtersTold = new java.util.HashMap<>();
        /**
         * A number for every peer and client the map has had, for the compiled policy's bit sets of
         * who sees whom: a policy change compares two of them per watcher instead of asking about
         * every peer twice. Numbers are not reused (a peer that comes back keeps its number).
         */
        private final Map<String, Integer> numbers = new java.util.HashMap<>();
        private final List<String> numbered = new ArrayList<>();
        /** The same peers' ids by key: which id holds a key, without a pass over the map per registration. */
        private final Map<com.google.protobuf.ByteString, String> byKey = new java.util.HashMap<>();
        final Map<Watcher, Boolean> watchers = new ConcurrentHashMap<>();
        final List<java.util.function.Consumer<List<Peer>>> listeners = new java.util.concurrent.CopyOnWriteArrayList<>();
        private long version;
        private TenantPolicy policy = TenantPolicy.NONE;
        /** The policy against the members now; null without a policy. */
        private PolicyCompiler.CompiledPolicy compiled;

        TenantMap(List<Entry> stored, TenantPolicy policy) {
            stored.forEach(e -> {
                number(e.peer().getNodeId());
                peers.put(e.peer().getNodeId(), e.peer());
                members.put(e.peer().getNodeId(), e.member());
                byKey.put(e.peer().getWireguardPublicKey(), e.peer().getNodeId());
            });
            version = 1;
            clients.values().forEach(list -> list.forEach(c -> number(c.id())));
            this.policy = policy;
            compiled = policy.policy() == null ? null : policy.policy().compile(policy.version(), everyone());
        }

        private int number(String id) {
            Integer n = numbers.get(id);
            if (n == null) {
                n = numbered.size();
                numbers.put(id, n);
                numbered.add(id);
            }
            return n;
        }

        /** Who {@code watcher} sees under {@code c}, by number; null: everyone (no policy). A peer is seen when one of its clients is. */
        private java.util.BitSet seenBy(PolicyCompiler.CompiledPolicy c, String watcher) {
            if (c == null) {
                return null;
            }
            java.util.BitSet seen = c.visibleFrom(watcher, id -> {
                Integer n = numbers.get(id);
                return n == null ? -1 : n;
            });
            for (Map.Entry<String, List<Member>> e : clients.entrySet()) {
                for (Member client : e.getValue()) {
                    Integer n = numbers.get(client.id());
                    if (n != null && seen.get(n)) {
                        seen.set(number(e.getKey()));
                        break;
                    }
                }
            }
            return seen;
        }

        /** The policy's members: the peers, and the clients they stand for. */
        private List<Member> everyone() {
            List<Member> all = new ArrayList<>(members.values());
            clients.values().forEach(all::addAll);
            return all;
        }

        synchronized PolicyCompiler.CompiledPolicy compiled() {
            return compiled;
        }

        synchronized List<Member> members() {
            return everyone();
        }

        /**
         * Whether {@code watcher} sees {@code peer} under {@code c} (null: no policy, everyone sees
         * everyone), with the clients the peer stood for then: a peer is seen by whoever may reach or
         * be reached by it or one of them.
         */
        private static boolean sees(PolicyCompiler.CompiledPolicy c, String watcher, String peer, List<Member> itsClients) {
            if (c == null || c.visible(watcher, peer)) {
                return true;
            }
            for (Member client : itsClients) {
                if (c.visible(watcher, client.id())) {
                    return true;
                }
            }
            return false;
        }

        synchronized void updatePeer(Peer peer) {
            Member who = members.get(peer.getNodeId());
            if (who != null) { // gone meanwhile: a heartbeat does not bring a removed node back
                change(peer.getNodeId(), new Entry(peer, who, clients.getOrDefault(peer.getNodeId(), List.of())));
            }
        }

        synchronized void listenToFilter(String nodeId, java.util.function.Consumer<NodeFilter> listener) {
            filterListeners.put(nodeId, listener);
            filtersTold.remove(nodeId);
            tellClientFilters();
        }

        synchronized void stopFilter(String nodeId, java.util.function.Consumer<NodeFilter> listener) {
            if (filterListeners.remove(nodeId, listener)) {
                filtersTold.remove(nodeId);
            }
        }

        /**
         * Tells each member that polices clients their filter, when it changed: the rules that name
         * any of its clients as a destination, each with all of those clients' addresses that it
         * names, in the policy's order.
         */
        private void tellClientFilters() {
            for (Map.Entry<String, java.util.function.Consumer<NodeFilter>> l : filterListeners.entrySet()) {
                NodeFilter now = compiled == null ? NodeFilter.OPEN
                        : clientsFilter(compiled, clients.getOrDefault(l.getKey(), List.of()));
                if (!now.equals(filtersTold.get(l.getKey()))) {
                    filtersTold.put(l.getKey(), now);
                    try {
                        l.getValue().accept(now);
                    } catch (RuntimeException e) {
                        org.slf4j.LoggerFactory.getLogger(NetworkMaps.class).warn("the filter of {}'s clients was not taken: {}",
                                l.getKey(), e.toString());
                    }
                }
            }
        }

        static NodeFilter clientsFilter(PolicyCompiler.CompiledPolicy c, List<Member> itsClients) {
            java.util.TreeMap<Integer, io.cloudbridge.api.policy.FilterRule> byPosition = new java.util.TreeMap<>();
            for (Member client : itsClients) {
                for (io.cloudbridge.api.policy.FilterRule r : c.filterFor(client.id()).rules()) {
                    io.cloudbridge.api.policy.FilterRule had = byPosition.get(r.position());
                    if (had == null) {
                        byPosition.put(r.position(), r);
                    } else {
                        List<io.cloudbridge.api.net.IpPrefix> both = new ArrayList<>(had.destinations());
                        both.addAll(r.destinations());
                        byPosition.put(r.position(), new io.cloudbridge.api.policy.FilterRule(r.position(), r.name(), r.accept(),
                                r.sources(), both, r.protocols(), r.ports()));
                    }
                }
            }
            return new NodeFilter(c.version(), List.copyOf(byPosition.values()));
        }

        /** The filter a watcher enforces: everything let in without a policy. */
        private static NodeFilter filterOf(PolicyCompiler.CompiledPolicy c, String nodeId) {
            return c == null ? NodeFilter.OPEN : c.filterFor(nodeId);
        }

        synchronized void subscribe(Watcher w) {
            List<Peer> others = new ArrayList<>();
            java.util.BitSet seen = seenBy(compiled, w.nodeId);
            for (Peer p : peers.values()) {
                if (!p.getNodeId().equals(w.nodeId) && (seen == null || seen.get(numbers.get(p.getNodeId())))) {
                    others.add(p);
                }
            }
            w.filter = filterOf(compiled, w.nodeId);
            w.send(NetworkMapUpdate.newBuilder().setVersion(version).setFull(FullMap.newBuilder().addAllPeers(others))
                    .setFilter(PolicyMessages.toMessage(w.filter)).build());
            watchers.put(w, Boolean.TRUE);
        }

        /**
         * A new policy: each watcher is sent the peers it now sees and did not, the removal of those
         * it saw and no longer does, and its new filter. One version for the whole change.
         */
        synchronized void policy(TenantPolicy next) {
            PolicyCompiler.CompiledPolicy before = compiled;
            policy = next;
            compiled = next.policy() == null ? null : next.policy().compile(next.version(), everyone());
            version++;
            for (Watcher w : watchers.keySet()) {
                if (!reconcile(w, before, true)) {
                    watchers.remove(w);
                }
            }
            tellClientFilters();
        }

        /**
         * Brings one watcher from what it saw under {@code before} to what it sees now; its filter
         * too when {@code filterToo}. False when the watcher is gone.
         */
        private boolean reconcile(Watcher w, PolicyCompiler.CompiledPolicy before, boolean filterToo) {
            java.util.BitSet was = seenBy(before, w.nodeId);
            java.util.BitSet now = seenBy(compiled, w.nodeId);
            if (was != null || now != null) {
                // Only the peers whose visibility differs are looked at: the two sets' difference
                // (null is everyone: then the other set's complement).
                java.util.BitSet differ;
                if (was == null || now == null) {
                    differ = new java.util.BitSet();
                    differ.set(0, numbered.size());
                    differ.andNot(was == null ? now : was);
                } else {
                    differ = (java.util.BitSet) was.clone();
                    differ.xor(now);
                }
                for (int n = differ.nextSetBit(0); n >= 0; n = differ.nextSetBit(n + 1)) {
                    String id = numbered.get(n);
                    Peer p = peers.get(id);
                    if (p == null || id.equals(w.nodeId)) {
                        continue; // a client (not a peer of the map), a peer gone, or the watcher itself
                    }
                    boolean seesNow = now == null || now.get(n);
                    NetworkMapUpdate.Builder b = NetworkMapUpdate.newBuilder().setVersion(version);
                    if (!w.send(seesNow ? b.setUpsert(p).build() : b.setRemoved(PeerRemoved.newBuilder().setNodeId(id)).build())) {
                        return false;
                    }
                }
            }
            return !filterToo || sendFilterIfChanged(w);
        }

        private boolean sendFilterIfChanged(Watcher w) {
            NodeFilter now = filterOf(compiled, w.nodeId);
            if (now.equals(w.filter)) {
                return true;
            }
            w.filter = now;
            return w.send(NetworkMapUpdate.newBuilder().setVersion(version).setFilter(PolicyMessages.toMessage(now)).build());
        }

        synchronized Optional<String> holder(NodeKey key) {
            return Optional.ofNullable(byKey.get(com.google.protobuf.ByteString.copyFrom(key.toBytes())));
        }

        synchronized void listen(java.util.function.Consumer<List<Peer>> listener) {
            listeners.add(listener);
            listener.accept(List.copyOf(peers.values()));
        }

        /**
         * Applies a change ({@code entry} null: removal) and sends its delta; one change at a time
         * per tenant keeps order. With a policy, a change of who the member is (its name, user,
         * groups, tags or addresses) changes the compiled policy: the member's own view is brought
         * in line, and every watcher whose filter it changes gets the new one.
         */
        synchronized void change(String nodeId, Entry entry) {
            number(nodeId);
            if (entry != null) {
                entry.clients().forEach(c -> number(c.id()));
            }
            Peer peer = entry == null ? null : entry.peer();
            Peer before = peer == null ? peers.remove(nodeId) : peers.put(nodeId, peer);
            Member memberBefore = entry == null ? members.remove(nodeId) : members.put(nodeId, entry.member());
            // Only peers that stand for clients (gateways) have an entry: each watcher's view walks them.
            List<Member> clientsBefore = entry == null || entry.clients().isEmpty() ? clients.remove(nodeId)
                    : clients.put(nodeId, entry.clients());
            clientsBefore = clientsBefore == null ? List.of() : clientsBefore;
            List<Member> clientsNow = entry == null ? List.of() : entry.clients();
            if (before != null) {
                byKey.remove(before.getWireguardPublicKey(), nodeId);
            }
            if (peer != null) {
                byKey.put(peer.getWireguardPublicKey(), nodeId);
            }
            PolicyCompiler.CompiledPolicy compiledBefore = compiled;
            if (compiled != null && !java.util.Objects.equals(memberBefore, entry == null ? null : entry.member())) {
                compiled = entry == null ? compiled.without(nodeId) : compiled.with(entry.member());
            }
            if (compiled != null && !clientsBefore.equals(clientsNow)) {
                for (Member gone : clientsBefore) {
                    if (clientsNow.stream().noneMatch(c -> c.id().equals(gone.id()))) {
                        compiled = compiled.without(gone.id());
                    }
                }
                for (Member client : clientsNow) {
                    if (!clientsBefore.contains(client)) {
                        compiled = compiled.with(client);
                    }
                }
            }
            boolean peerChanged = peer == null ? before != null : !peer.equals(before);
            if (!peerChanged && compiled == compiledBefore) {
                return; // nothing changed: no delta
            }
            version++;
            NetworkMapUpdate.Builder b = NetworkMapUpdate.newBuilder().setVersion(version);
            NetworkMapUpdate update = peer == null ? b.setRemoved(PeerRemoved.newBuilder().setNodeId(nodeId)).build()
                    : b.setUpsert(peer).build();
            for (Watcher w : watchers.keySet()) {
                boolean alive;
                if (w.nodeId.equals(nodeId)) {
                    // Its own view follows who it is now.
                    alive = compiled == compiledBefore || reconcile(w, compiledBefore, true);
                } else {
                    boolean was = before != null && sees(compiledBefore, w.nodeId, nodeId, clientsBefore);
                    boolean now = peer != null && sees(compiled, w.nodeId, nodeId, clientsNow);
                    alive = true;
                    if (now && (peerChanged || !was)) {
                        alive = w.send(update);
                    } else if (!now && was) {
                        alive = w.send(NetworkMapUpdate.newBuilder().setVersion(version)
                                .setRemoved(PeerRemoved.newBuilder().setNodeId(nodeId)).build());
                    }
                    if (alive && compiled != compiledBefore) {
                        alive = sendFilterIfChanged(w);
                    }
                }
                if (!alive) {
                    watchers.remove(w);
                }
            }
            if (!listeners.isEmpty()) {
                List<Peer> now = List.copyOf(peers.values());
                listeners.forEach(l -> l.accept(now));
            }
            if (compiled != compiledBefore || !clientsBefore.equals(clientsNow)) {
                tellClientFilters();
            }
        }
    }

    private static final class Watcher {
        final String nodeId;
        private final ServerCallStreamObserver<NetworkMapUpdate> stream;
        /** The filter it was sent last; guarded by its tenant map. */
        NodeFilter filter;
        private int behind;

        Watcher(String nodeId, ServerCallStreamObserver<NetworkMapUpdate> stream) {
            this.nodeId = nodeId;
            this.stream = stream;
        }

        /** False when the watcher is gone or too far behind (its stream is then ended). */
        synchronized boolean send(NetworkMapUpdate update) {
            if (stream.isCancelled()) {
                return false;
            }
            behind = stream.isReady() ? 0 : behind + 1;
            if (behind > MAX_BEHIND) {
                end(Status.RESOURCE_EXHAUSTED.withDescription("map updates not read; reconnect for a full map"));
                return false;
            }
            try {
                stream.onNext(update);
                return true;
            } catch (RuntimeException e) {
                return false; // the call ended meanwhile
            }
        }

        synchronized void end(Status status) {
            try {
                stream.onError(status.asRuntimeException());
            } catch (RuntimeException alreadyClosed) {
                // the call ended by itself
            }
        }
    }
}
