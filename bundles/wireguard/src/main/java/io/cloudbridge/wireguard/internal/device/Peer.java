package io.cloudbridge.wireguard.internal.device;

import io.cloudbridge.api.net.IpPrefix;
import io.cloudbridge.wireguard.internal.noise.Handshake;
import io.cloudbridge.wireguard.internal.noise.Keypair;
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
    /** The same key as the paths know it: made once, not per packet. */
    final io.cloudbridge.api.net.NodeKey key;
    /** As configured, replaced whole on change; the device's routing table is what the data path reads. */
    volatile List<IpPrefix> allowedIps = List.of();
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
    /** Handshake messages this peer may still send through a relay (see WireGuardDevice.receiveRelayed). */
    final HandshakeBudget relayedBudget = new HandshakeBudget();
    /** This peer's relayed handshake messages waiting for the device's handshake thread. */
    final java.util.concurrent.atomic.AtomicInteger relayedWaiting = new java.util.concurrent.atomic.AtomicInteger();
    final Deque<byte[]> queue = new ArrayDeque<>();
    final AtomicLong rxBytes = new AtomicLong();
    final AtomicLong txBytes = new AtomicLong();
    final AtomicLong rxPackets = new AtomicLong();
    final AtomicLong txPackets = new AtomicLong();

    /** Without prefixes: the device gives them (WireGuardDevice.addAllowedIp), so that its routing table has them too. */
    Peer(Handshake handshake, byte[] publicKey, byte[] presharedKey, InetSocketAddress endpoint) {
        this.handshake = handshake;
        this.presharedKey = presharedKey == null ? new byte[32] : presharedKey.clone();
        this.publicKey = publicKey.clone();
        this.key = io.cloudbridge.api.net.NodeKey.of(this.publicKey);
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

    public List<IpPrefix> allowedIps() {
        return allowedIps;
    }

    synchronized void replaceAllowedIps(List<IpPrefix> prefixes) {
        allowedIps = List.copyOf(prefixes);
    }

    /** Adds an allowed prefix; the device moves it here from any other peer (see WireGuardDevice). */
    synchronized void addAllowedIp(IpPrefix prefix) {
        if (!allowedIps.contains(prefix)) {
            List<IpPrefix> grown = new java.util.ArrayList<>(allowedIps);
            grown.add(prefix);
            allowedIps = List.copyOf(grown);
        }
    }

    synchronized void removeAllowedIp(IpPrefix prefix) {
        if (allowedIps.contains(prefix)) {
            List<IpPrefix> shrunk = new java.util.ArrayList<>(allowedIps);
            shrunk.remove(prefix);
            allowedIps = List.copyOf(shrunk);
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
