package io.cloudbridge.wireguard.internal.device;

import io.cloudbridge.api.net.IpPrefix;
import io.cloudbridge.wireguard.internal.noise.Handshake;
import io.cloudbridge.wireguard.internal.noise.Keypair;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/** One peer of a device: its handshake, keypairs, endpoint and allowed IPs. */
public final class Peer {
    /** Packets held while a handshake completes; beyond this the oldest are dropped. */
    static final int QUEUE_LIMIT = 1024;

    /** Replaced when the pre-shared key changes; the handshake state starts over then. */
    volatile Handshake handshake;
    /** Per-peer persistent keepalive ({@code null}: the device's default). */
    volatile java.time.Duration persistentKeepalive;
    /** As configured; the handshake holds its own copy. */
    volatile byte[] presharedKey;
    final byte[] publicKey;
    /** Replaced whole on change, so the data path reads it without a lock. */
    volatile List<IpPrefix> allowedIps;
    /** The same prefixes as raw bytes, which the data path matches packet headers against without allocating. */
    private volatile PrefixTable prefixTable = new PrefixTable(List.of());
    volatile InetSocketAddress endpoint;
    /** The keypair data is sent with. */
    volatile Keypair current;
    /** The keypair before the latest, still accepted for data in flight. */
    volatile Keypair previous;
    /** The responder's new keypair, used once the initiator's first data message confirms it. */
    volatile Keypair next;
    volatile Instant lastHandshakeSent = Instant.EPOCH;
    volatile Instant lastHandshakeCompleted;
    /** When the current run of handshake attempts began (null: none in progress). */
    volatile Instant handshakeAttemptsSince;
    /** When the next retry is due, jitter included (null: none). */
    volatile Instant retryAt;
    volatile Instant lastSent = Instant.EPOCH;
    volatile Instant lastReceived = Instant.EPOCH;
    /** When data (not a keepalive) was last sent, while no data has come back since (null: none pending). */
    volatile Instant dataSentUnanswered;
    /** When data was last received, while nothing has been sent since (null: none pending). */
    volatile Instant dataReceivedUnanswered;
    volatile Instant lastNewSession;
    /** The session index of the initiation in flight, freed when the next one replaces it. */
    volatile Integer pendingIndex;
    final java.util.concurrent.atomic.AtomicInteger handshakesCompleted = new java.util.concurrent.atomic.AtomicInteger();
    final Deque<byte[]> queue = new ArrayDeque<>();
    final AtomicLong rxBytes = new AtomicLong();
    final AtomicLong txBytes = new AtomicLong();
    final AtomicLong rxPackets = new AtomicLong();
    final AtomicLong txPackets = new AtomicLong();

    Peer(Handshake handshake, byte[] publicKey, byte[] presharedKey, List<IpPrefix> allowedIps, InetSocketAddress endpoint) {
        this.handshake = handshake;
        this.presharedKey = presharedKey == null ? new byte[32] : presharedKey.clone();
        this.publicKey = publicKey.clone();
        setAllowedIps(allowedIps);
        this.endpoint = endpoint;
    }

    public byte[] publicKey() {
        return publicKey.clone();
    }

    public InetSocketAddress endpoint() {
        return endpoint;
    }

    public Instant lastHandshake() {
        return lastHandshakeCompleted;
    }

    public long rxBytes() {
        return rxBytes.get();
    }

    public long txBytes() {
        return txBytes.get();
    }

    public java.time.Duration persistentKeepalive() {
        return persistentKeepalive;
    }

    /** A configured endpoint; authenticated packets from elsewhere move it again (roaming). */
    public void setEndpoint(InetSocketAddress address) {
        endpoint = address;
    }

    public void setPersistentKeepalive(java.time.Duration interval) {
        persistentKeepalive = interval;
    }

    public long rxPackets() {
        return rxPackets.get();
    }

    public long txPackets() {
        return txPackets.get();
    }

    public int handshakesCompleted() {
        return handshakesCompleted.get();
    }

    /** The length of the longest allowed prefix that holds {@code address}, or -1. */
    int longestMatch(InetAddress address) {
        byte[] a = address.getAddress();
        return prefixTable.longestMatch(a, 0, a.length);
    }

    /** The same for the address at {@code bytes[offset, offset + addressLength)} (4 or 16 bytes): a packet's header. */
    int longestMatch(byte[] bytes, int offset, int addressLength) {
        return prefixTable.longestMatch(bytes, offset, addressLength);
    }

    private void setAllowedIps(List<IpPrefix> prefixes) {
        allowedIps = List.copyOf(prefixes);
        prefixTable = new PrefixTable(allowedIps);
    }

    /** Allowed prefixes as network bytes and lengths. */
    private static final class PrefixTable {
        private final byte[][] networks;
        private final int[] lengths;

        PrefixTable(List<IpPrefix> prefixes) {
            networks = new byte[prefixes.size()][];
            lengths = new int[prefixes.size()];
            for (int i = 0; i < networks.length; i++) {
                networks[i] = prefixes.get(i).address().getAddress();
                lengths[i] = prefixes.get(i).length();
            }
        }

        int longestMatch(byte[] bytes, int offset, int addressLength) {
            int best = -1;
            for (int i = 0; i < networks.length; i++) {
                if (networks[i].length == addressLength && lengths[i] > best && matches(networks[i], lengths[i], bytes, offset)) {
                    best = lengths[i];
                }
            }
            return best;
        }

        private static boolean matches(byte[] network, int bits, byte[] bytes, int offset) {
            int whole = bits >>> 3;
            for (int i = 0; i < whole; i++) {
                if (network[i] != bytes[offset + i]) {
                    return false;
                }
            }
            int rest = bits & 7;
            if (rest == 0) {
                return true;
            }
            int mask = (0xFF << (8 - rest)) & 0xFF;
            return (bytes[offset + whole] & mask) == (network[whole] & 0xFF);
        }
    }

    public List<IpPrefix> allowedIps() {
        return allowedIps;
    }

    synchronized void replaceAllowedIps(List<IpPrefix> prefixes) {
        setAllowedIps(prefixes);
    }

    /** Adds an allowed prefix; the device moves it here from any other peer (see WireGuardDevice). */
    synchronized void addAllowedIp(IpPrefix prefix) {
        if (!allowedIps.contains(prefix)) {
            List<IpPrefix> grown = new java.util.ArrayList<>(allowedIps);
            grown.add(prefix);
            setAllowedIps(grown);
        }
    }

    synchronized void removeAllowedIp(IpPrefix prefix) {
        if (allowedIps.contains(prefix)) {
            List<IpPrefix> shrunk = new java.util.ArrayList<>(allowedIps);
            shrunk.remove(prefix);
            setAllowedIps(shrunk);
        }
    }

    /** Installs a fresh keypair as the one to send with. */
    synchronized void rotate(Keypair fresh) {
        previous = current;
        current = fresh;
        next = null;
    }

    /** Forgets every session and the handshake in flight (keys zeroed after 3 x REJECT_AFTER_TIME). */
    synchronized void eraseKeys() {
        previous = null;
        current = null;
        next = null;
        handshake.clear();
    }
}
