package io.cloudbridge.wireguard.internal.device;

import io.cloudbridge.wireguard.internal.noise.CookieChecker;
import io.cloudbridge.wireguard.internal.noise.Identity;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.time.Clock;
import java.time.Instant;
import java.util.Map;

/**
 * Whether a handshake message gets the Diffie-Hellman work it asks for. That work costs one to
 * four X25519 a message, and a message costs its sender nothing: so every message first passes
 * MAC1 (it knows our public key), and once the device is under load MAC2 as well, a cookie that
 * proves the sender receives at its source; without one it gets a cookie reply and nothing else.
 * A proven source still gets only a few handshakes a second while the load lasts.
 *
 * <p>Relayed messages name their sender by the key the relay authenticated, which no one can
 * forge, so they are budgeted always, per sender and for all senders together, and wait in a
 * bounded queue for the handshake thread ({@link RelayedHandshakes}), whose depth is their load.
 */
final class HandshakeRateLimiter implements AutoCloseable {
    private static final int PER_SOURCE_HANDSHAKES_PER_SECOND = 20;
    private static final int RATE_TABLE_LIMIT = 8192;

    /** The peers by key and the drop counters are the device's. */
    private final WireGuardDevice device;
    private final Outbound outbound;
    private final Clock clock;
    private final CookieChecker cookies;
    /** Handshake messages per second above which a valid MAC2 (a cookie) is required. */
    private final int handshakeLoadThreshold;
    private long loadSecond;
    private int loadCount;
    private final Map<InetAddress, int[]> perSource = new java.util.HashMap<>();
    private long perSourceSecond;
    /** Relayed handshake messages waiting for their Diffie-Hellman work, off the thread that handed them in. */
    private final RelayedHandshakes relayed;
    /** What all relayed senders together may have worked on (each has its own budget too). */
    private final HandshakeBudget relayedBudget = new HandshakeBudget(HandshakeBudget.DEVICE_PER_SECOND, HandshakeBudget.DEVICE_BURST);

    HandshakeRateLimiter(WireGuardDevice device, Identity identity, Clock clock, int handshakeLoadThreshold,
            Outbound outbound, RelayedHandshakes relayed) {
        this.device = device;
        this.outbound = outbound;
        this.clock = clock;
        this.cookies = new CookieChecker(identity);
        this.handshakeLoadThreshold = handshakeLoadThreshold;
        this.relayed = relayed;
    }

    /** Counts one handshake message; true when this second has seen more than the threshold. */
    private synchronized boolean underLoad(Instant now) {
        long second = now.getEpochSecond();
        if (second != loadSecond) {
            loadSecond = second;
            loadCount = 0;
        }
        return ++loadCount > handshakeLoadThreshold;
    }

    /** A handshake budget per source address and second, used only under load; the table is bounded. */
    private synchronized boolean perSourceAllowance(InetAddress source, Instant now) {
        long second = now.getEpochSecond();
        if (second != perSourceSecond || perSource.size() >= RATE_TABLE_LIMIT) {
            perSource.clear();
            perSourceSecond = second;
        }
        int[] count = perSource.computeIfAbsent(source, a -> new int[1]);
        return ++count[0] <= PER_SOURCE_HANDSHAKES_PER_SECOND;
    }

    /** Address bytes then port, big-endian: what a cookie is bound to. */
    private static byte[] sourceBytes(InetSocketAddress from) {
        byte[] a = from.getAddress().getAddress();
        byte[] out = java.util.Arrays.copyOf(a, a.length + 2);
        out[a.length] = (byte) (from.getPort() >> 8);
        out[a.length + 1] = (byte) from.getPort();
        return out;
    }

    /**
     * The MAC checks every handshake message passes before any Diffie-Hellman work: MAC1 always;
     * under load also MAC2, and without a valid one the sender gets a cookie reply instead.
     */
    boolean macsPass(byte[] msg, InetSocketAddress from, Instant now) {
        if (!cookies.checkMac1(msg)) {
            device.drop("bad mac1");
            return false;
        }
        if (from == null) {
            // Through a relay that does not say who sent it (a node's relay path: the relay
            // authenticated the sender's session and rate-limits it). A relay's own peer (a
            // CONNECT-IP gateway) is told the sender and budgets each one: see receiveRelayed.
            return true;
        }
        boolean loaded = underLoad(now);
        if (loaded && cookies.checkMac2(msg, sourceBytes(from), now) && !perSourceAllowance(from.getAddress(), now)) {
            // A valid cookie proves the address, not good manners: each address gets a few
            // handshakes a second while the device is under load.
            device.drop("under load: source over its rate");
            return false;
        }
        if (loaded && !cookies.checkMac2(msg, sourceBytes(from), now)) {
            device.drop("under load: cookie sent");
            outbound.sendTo(from, ByteBuffer.wrap(cookies.createReply(msg, sourceBytes(from), now)));
            return false;
        }
        return true;
    }

    /** The cheap checks of {@link WireGuardDevice#receiveRelayed}, then the queue for the handshake thread. */
    void relayedHandshake(byte[] sender, byte[] msg) {
        // The sender's own peer entry holds its budget: the table is as large as the peer list,
        // and a node that is no peer has nothing to handshake about.
        Peer peer = device.peerByKey(sender);
        if (peer == null) {
            device.drop("relayed handshake: sender is no peer");
            return;
        }
        if (!cookies.checkMac1(msg)) {
            device.drop("bad mac1");
            return;
        }
        Instant now = clock.instant();
        if (!peer.relayedBudget.take(now)) {
            device.drop("relayed handshake: sender over its budget");
            return;
        }
        if (relayed.underLoad() && !cookies.checkMac2(msg, sender, now)) {
            // WireGuard's answer to load, with the relay's sender as the source the cookie is
            // bound to (a node's key, where UDP has an address and port): a WireGuard peer retries
            // with the cookie in MAC2, and no other node can use it.
            device.drop("relayed handshake under load: cookie sent");
            outbound.transmit(peer, cookies.createReply(msg, sender, now), 0);
            return;
        }
        if (!relayedBudget.take(now)) {
            device.drop("relayed handshake: all senders over their budget");
            return;
        }
        switch (relayed.offer(peer, msg)) {
            case QUEUED -> {
            }
            case SENDER_BUSY -> device.drop("relayed handshake: sender has " + RelayedHandshakes.PER_SENDER + " waiting");
            case FULL -> device.drop("relayed handshake: queue full");
            case CLOSED -> device.drop("closed");
        }
    }

    /** Relayed handshake messages waiting for the handshake thread. */
    int relayedWaiting() {
        return relayed.waiting();
    }

    @Override
    public void close() {
        relayed.close();
    }
}
