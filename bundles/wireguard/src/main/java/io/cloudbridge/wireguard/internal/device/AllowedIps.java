package io.cloudbridge.wireguard.internal.device;

import io.cloudbridge.api.net.IpPrefix;

/**
 * Cryptokey routing: which peer holds the longest allowed prefix of an address. One
 * path-compressed binary trie per address family, so a lookup costs the depth of the trie (about
 * log2 of the prefixes, at most 33 or 129 nodes) instead of a pass over every peer's prefixes,
 * which every packet paid twice (destination on the way out, source check on the way in) and
 * which grew with the mesh.
 *
 * <p>Nodes never change: a write copies the path from the root to the node it changes and
 * publishes the new root, so the data path reads without a lock while writes (the device's
 * synchronized methods) serialise among themselves.
 */
final class AllowedIps {
    /** A prefix with its owner, or ({@code peer == null}) a branch where two prefixes part ways. */
    private static final class Node {
        final byte[] network; // host bits zero
        final int length;
        final Peer peer;
        final Node zero;
        final Node one;

        Node(byte[] network, int length, Peer peer, Node zero, Node one) {
            this.network = network;
            this.length = length;
            this.peer = peer;
            this.zero = zero;
            this.one = one;
        }
    }

    private volatile Node v4;
    private volatile Node v6;

    /** The owner of the longest prefix holding the address at {@code bytes[offset, offset + addressLength)}; null for none. */
    Peer lookup(byte[] bytes, int offset, int addressLength) {
        Node node = addressLength == 4 ? v4 : addressLength == 16 ? v6 : null;
        int bits = addressLength * 8;
        Peer best = null;
        int checked = 0; // the bits every node on the way has matched already
        while (node != null && matches(node.network, node.length, bytes, offset, checked)) {
            if (node.peer != null) {
                best = node.peer;
            }
            if (node.length == bits) {
                break;
            }
            checked = node.length;
            node = bit(bytes, offset, node.length) == 0 ? node.zero : node.one;
        }
        return best;
    }

    /** Gives {@code prefix} to {@code peer}; returns the peer that held exactly this prefix before (or null). */
    Peer put(IpPrefix prefix, Peer peer) {
        byte[] network = prefix.address().getAddress();
        Peer[] previous = new Peer[1];
        if (network.length == 4) {
            v4 = insert(v4, network, prefix.length(), peer, previous);
        } else {
            v6 = insert(v6, network, prefix.length(), peer, previous);
        }
        return previous[0];
    }

    /** Takes {@code prefix} away if {@code owner} holds it; another peer's prefix stays. */
    void remove(IpPrefix prefix, Peer owner) {
        byte[] network = prefix.address().getAddress();
        if (network.length == 4) {
            v4 = remove(v4, network, prefix.length(), owner);
        } else {
            v6 = remove(v6, network, prefix.length(), owner);
        }
    }

    private static Node insert(Node node, byte[] network, int length, Peer peer, Peer[] previous) {
        if (node == null) {
            return new Node(network, length, peer, null, null);
        }
        int common = commonBits(node.network, network, Math.min(node.length, length));
        if (common == node.length && common == length) {
            previous[0] = node.peer;
            return new Node(node.network, node.length, peer, node.zero, node.one);
        }
        if (common == node.length) { // the new prefix lies below this node
            boolean one = bit(network, 0, node.length) == 1;
            Node child = insert(one ? node.one : node.zero, network, length, peer, previous);
            return new Node(node.network, node.length, node.peer, one ? node.zero : child, one ? child : node.one);
        }
        Node leaf = new Node(network, length, peer, null, null);
        if (common == length) { // the new prefix holds this node
            return bit(node.network, 0, length) == 1 ? new Node(network, length, peer, null, node)
                    : new Node(network, length, peer, node, null);
        }
        // The two part ways at bit `common`: a branch above both.
        Node branch = bit(network, 0, common) == 1 ? new Node(masked(network, common), common, null, node, leaf)
                : new Node(masked(network, common), common, null, leaf, node);
        return branch;
    }

    private static Node remove(Node node, byte[] network, int length, Peer owner) {
        if (node == null || node.length > length || commonBits(node.network, network, node.length) < node.length) {
            return node;
        }
        if (node.length == length) {
            return node.peer == owner ? joined(node.network, node.length, null, node.zero, node.one) : node;
        }
        boolean one = bit(network, 0, node.length) == 1;
        Node child = one ? node.one : node.zero;
        Node updated = remove(child, network, length, owner);
        if (updated == child) {
            return node;
        }
        return joined(node.network, node.length, node.peer, one ? node.zero : updated, one ? updated : node.one);
    }

    /** A node, or, where it would hold no prefix and branch no more, the child that stands in for it. */
    private static Node joined(byte[] network, int length, Peer peer, Node zero, Node one) {
        if (peer == null && (zero == null || one == null)) {
            return zero == null ? one : zero;
        }
        return new Node(network, length, peer, zero, one);
    }

    /** Whether the address has the node's first {@code length} bits (those before {@code from} are known to match). */
    private static boolean matches(byte[] network, int length, byte[] bytes, int offset, int from) {
        int whole = length >>> 3;
        for (int i = from >>> 3; i < whole; i++) {
            if (network[i] != bytes[offset + i]) {
                return false;
            }
        }
        int rest = length & 7;
        if (rest == 0) {
            return true;
        }
        int mask = (0xFF << (8 - rest)) & 0xFF;
        return (bytes[offset + whole] & mask) == (network[whole] & 0xFF);
    }

    /** How many leading bits {@code a} and {@code b} share, up to {@code limit}. */
    private static int commonBits(byte[] a, byte[] b, int limit) {
        int i = 0;
        while (i < limit) {
            int x = (a[i >>> 3] ^ b[i >>> 3]) & 0xFF;
            if (x == 0) {
                i += 8;
                continue;
            }
            return Math.min(limit, (i & ~7) + Integer.numberOfLeadingZeros(x) - 24);
        }
        return limit;
    }

    private static int bit(byte[] bytes, int offset, int index) {
        return (bytes[offset + (index >>> 3)] >>> (7 - (index & 7))) & 1;
    }

    private static byte[] masked(byte[] network, int length) {
        byte[] m = network.clone();
        for (int i = 0; i < m.length; i++) {
            int keep = Math.max(0, Math.min(8, length - i * 8));
            m[i] &= (byte) (0xFF << (8 - keep));
        }
        return m;
    }
}
