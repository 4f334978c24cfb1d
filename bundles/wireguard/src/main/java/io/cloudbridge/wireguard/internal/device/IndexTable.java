package io.cloudbridge.wireguard.internal.device;

import io.cloudbridge.wireguard.internal.noise.Keypair;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Session index to the peer whose keypair (or initiation in flight) it names: every message after
 * an initiation carries its receiver's index, so a datagram finds its session with one lookup
 * instead of trying keys. Only a handshake this device takes part in adds an entry, and rotation,
 * retries, giving up and removal take them out again, so bad input cannot grow it.
 */
final class IndexTable {
    /** Session index to the peer and keypair (or pending handshake) it names. */
    private final Map<Integer, Peer> indices = new ConcurrentHashMap<>();

    /** The peer that owns {@code index}, or {@code null}. */
    Peer get(int index) {
        return indices.get(index);
    }

    int newIndex(Peer peer) {
        while (true) {
            int index = io.cloudbridge.wireguard.internal.noise.NoiseCrypto.randomIndex();
            if (indices.putIfAbsent(index, peer) == null) {
                return index;
            }
        }
    }

    void remove(int index) {
        indices.remove(index);
    }

    void retire(Keypair old) {
        if (old != null) {
            indices.remove(old.localIndex());
        }
    }

    /** Forgets every index of a peer that is removed. */
    void removePeer(Peer peer) {
        indices.values().removeIf(p -> p == peer);
    }

    int size() {
        return indices.size();
    }
}
