package io.cloudbridge.control.relay.internal;

import io.cloudbridge.api.net.NodeKey;
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
 * <p>A watcher that stops reading is not buffered for without bound: past {@link #MAX_BEHIND}
 * unsent updates its stream is ended, and it comes back for a fresh full map.
 */
final class NetworkMaps {
    static final int MAX_BEHIND = 1024;

    private final Map<String, TenantMap> tenants = new ConcurrentHashMap<>();
    private final Function<String, List<Peer>> loader;

    /** @param loader the tenant's peers as stored, read when a tenant's map is first needed */
    NetworkMaps(Function<String, List<Peer>> loader) {
        this.loader = loader;
    }

    private TenantMap tenant(String tenant) {
        return tenants.computeIfAbsent(tenant, t -> new TenantMap(loader.apply(t)));
    }

    void upsert(String tenant, Peer peer) {
        tenant(tenant).change(peer.getNodeId(), peer);
    }

    void remove(String tenant, String nodeId) {
        tenant(tenant).change(nodeId, null);
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
        /** The same peers' ids by key: which id holds a key, without a pass over the map per registration. */
        private final Map<com.google.protobuf.ByteString, String> byKey = new java.util.HashMap<>();
        final Map<Watcher, Boolean> watchers = new ConcurrentHashMap<>();
        final List<java.util.function.Consumer<List<Peer>>> listeners = new java.util.concurrent.CopyOnWriteArrayList<>();
        private long version;

        TenantMap(List<Peer> stored) {
            stored.forEach(p -> {
                peers.put(p.getNodeId(), p);
                byKey.put(p.getWireguardPublicKey(), p.getNodeId());
            });
            version = 1;
        }

        synchronized void subscribe(Watcher w) {
            List<Peer> others = new ArrayList<>();
            for (Peer p : peers.values()) {
                if (!p.getNodeId().equals(w.nodeId)) {
                    others.add(p);
                }
            }
            w.send(NetworkMapUpdate.newBuilder().setVersion(version).setFull(FullMap.newBuilder().addAllPeers(others)).build());
            watchers.put(w, Boolean.TRUE);
        }

        synchronized Optional<String> holder(NodeKey key) {
            return Optional.ofNullable(byKey.get(com.google.protobuf.ByteString.copyFrom(key.toBytes())));
        }

        synchronized void listen(java.util.function.Consumer<List<Peer>> listener) {
            listeners.add(listener);
            listener.accept(List.copyOf(peers.values()));
        }

        /** Applies a change ({@code peer} null: removal) and sends its delta; one change at a time per tenant keeps order. */
        synchronized void change(String nodeId, Peer peer) {
            Peer before = peer == null ? peers.remove(nodeId) : peers.put(nodeId, peer);
            if (before != null) {
                byKey.remove(before.getWireguardPublicKey(), nodeId);
            }
            if (peer != null) {
                byKey.put(peer.getWireguardPublicKey(), nodeId);
            }
            if (peer == null ? before == null : peer.equals(before)) {
                return; // nothing changed: no delta
            }
            version++;
            NetworkMapUpdate.Builder b = NetworkMapUpdate.newBuilder().setVersion(version);
            NetworkMapUpdate update = peer == null ? b.setRemoved(PeerRemoved.newBuilder().setNodeId(nodeId)).build()
                    : b.setUpsert(peer).build();
            for (Watcher w : watchers.keySet()) {
                if (!w.nodeId.equals(nodeId) && !w.send(update)) {
                    watchers.remove(w);
                }
            }
            if (!listeners.isEmpty()) {
                List<Peer> now = List.copyOf(peers.values());
                listeners.forEach(l -> l.accept(now));
            }
        }
    }

    private static final class Watcher {
        final String nodeId;
        private final ServerCallStreamObserver<NetworkMapUpdate> stream;
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
