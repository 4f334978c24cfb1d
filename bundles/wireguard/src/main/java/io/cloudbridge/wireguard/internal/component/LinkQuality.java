package io.cloudbridge.wireguard.internal.component;

import io.cloudbridge.api.net.IpPrefix;
import io.cloudbridge.wireguard.internal.device.IcmpEcho;
import io.cloudbridge.wireguard.internal.device.Peer;
import io.cloudbridge.wireguard.internal.device.WireGuardDevice;
import java.net.Inet4Address;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * Per peer, how the path its packets take now is doing: round-trip time, jitter and loss,
 * measured end to end through the tunnel, whichever path (direct, relayed, TURN) carries it. Each
 * {@link #probe} sends every peer with a live session one ICMP echo from this node's overlay
 * address to the peer's; a probe not answered by the next round is lost.
 *
 * <p>Why an echo through the tunnel rather than the paths' own checks: ICE's consent checks see
 * only the direct path, and the relay's session RTT is to the relay, not to the peer. Why these
 * echoes are answered before the tenant's policy: a default-deny policy would otherwise turn
 * every peer's figures into 100% loss. The answer tells an authenticated peer of the tenant no
 * more than the WireGuard handshake already does (that this node is up), and a request is
 * answered once, never amplified. A CloudBridge peer answers in its engine, recognising the
 * {@link #PROBE_ID identifier} and {@link #MAGIC payload}; any other WireGuard peer's own stack
 * answers it as the ordinary echo it is.
 *
 * <p>Probes go only over a session that is up ({@link WireGuardDevice#sendOnSession}), and are not
 * data for the session's timers: they never start a handshake nor renew a session, and a peer
 * without a session has no figures rather than 100% loss. A request is answered only when it is
 * exactly a probe and addressed to this node's own overlay address.
 */
final class LinkQuality {
    /** The ICMP identifier of the probes (cb:ping's is 0xcb01). */
    static final int PROBE_ID = 0xcb02;
    /** How every probe's payload begins: with the identifier, what tells a probe from a host's own echo. */
    static final byte[] MAGIC = "cloudbridge-link-probe".getBytes(StandardCharsets.US_ASCII);
    /** Loss is the share of the last this many probes that went unanswered. */
    static final int LOSS_WINDOW = 20;

    private final Map<Peer, PeerLink> links = new ConcurrentHashMap<>();
    private final AtomicInteger sequence = new AtomicInteger();
    private final LongAdder answeredTotal = new LongAdder();
    private final LongAdder lostTotal = new LongAdder();

    /**
     * One round: the last round's unanswered probes are lost, then each peer with a session and
     * an IPv4 host address gets a new probe. Peers gone from the device are forgotten.
     */
    void probe(WireGuardDevice device, List<Inet4Address> ownAddresses) {
        List<Peer> peers = device.peers();
        links.keySet().retainAll(new java.util.HashSet<>(peers));
        Inet4Address source = ownAddresses.isEmpty() ? null : ownAddresses.get(0);
        for (Peer peer : peers) {
            PeerLink link = links.computeIfAbsent(peer, p -> new PeerLink());
            if (link.expireOutstanding()) {
                lostTotal.increment();
            }
            Optional<Inet4Address> target = hostAddress(peer);
            if (source == null || target.isEmpty()) {
                continue;
            }
            int seq = sequence.incrementAndGet() & 0xffff;
            byte[] request = IcmpEcho.request(source, target.get(), PROBE_ID, seq, MAGIC);
            // Noted before it goes: its answer may come back on a receive thread before send returns.
            link.sent(seq, System.nanoTime());
            if (!device.sendOnSession(peer, request)) {
                link.noSession(); // no figures for a peer without a session, rather than old ones
            }
        }
    }

    /** The interface is gone: so are its peers' figures. */
    void forgetAll() {
        links.clear();
    }

    /**
     * A probe from a peer is answered, and a probe's answer is taken; true for either (the packet
     * goes no further). Anything else: false, untouched.
     */
    boolean answer(WireGuardDevice device, Peer peer, byte[] packet, int length, List<java.net.InetAddress> ownAddresses) {
        if (!isProbe(packet, length)) {
            return false;
        }
        if (IcmpEcho.isRequest(packet, length)) {
            // Only a probe to this node's own address is answered past the policy: nothing else can
            // be reached this way, and the answer is no larger than the probe.
            if (ownAddresses.contains(io.cloudbridge.wireguard.internal.device.IpPackets.destination(packet, length))) {
                device.sendOnSession(peer, IcmpEcho.replyTo(packet, length));
            }
            return true;
        }
        PeerLink link = links.get(peer);
        if (link != null && link.answered(IcmpEcho.sequence(packet), System.nanoTime())) {
            answeredTotal.increment();
        }
        return true;
    }

    private static boolean isProbe(byte[] packet, int length) {
        if (!(IcmpEcho.isRequest(packet, length) || IcmpEcho.isReply(packet, length)) || IcmpEcho.id(packet) != PROBE_ID) {
            return false;
        }
        int payload = (packet[0] & 0x0f) * 4 + 8;
        // Exactly the magic: a probe is never larger than this, so neither is an answer.
        return payload + MAGIC.length == length
                && Arrays.equals(packet, payload, payload + MAGIC.length, MAGIC, 0, MAGIC.length);
    }

    /** The peer's own overlay address: its first IPv4 host route (a /32), where probes are sent. */
    static Optional<Inet4Address> hostAddress(Peer peer) {
        for (IpPrefix prefix : peer.allowedIps()) {
            if (prefix.address() instanceof Inet4Address v4 && prefix.length() == 32) {
                return Optional.of(v4);
            }
        }
        return Optional.empty();
    }

    /** What is known of a peer's path now; empty before its first probe was answered or lost. */
    Optional<PeerLink> link(Peer peer) {
        return Optional.ofNullable(links.get(peer));
    }

    long answeredTotal() {
        return answeredTotal.sum();
    }

    long lostTotal() {
        return lostTotal.sum();
    }

    /** One peer's figures. Synchronized: the prober, the receive path and a scrape meet here. */
    static final class PeerLink {
        private int outstanding = -1;
        private long sentAt;
        private long smoothedRttNanos = -1;
        private long lastRttNanos = -1;
        private double jitterNanos;
        private long answers;
        private final boolean[] window = new boolean[LOSS_WINDOW];
        private int windowFill;
        private int windowNext;

        synchronized void sent(int seq, long at) {
            outstanding = seq;
            sentAt = at;
        }

        /** The peer has no session now: whatever was measured is forgotten, and nothing is counted lost. */
        synchronized void noSession() {
            outstanding = -1;
            smoothedRttNanos = -1;
            lastRttNanos = -1;
            jitterNanos = 0;
            answers = 0;
            windowFill = 0;
            windowNext = 0;
        }

        /** The probe still out is lost: true when there was one. */
        synchronized boolean expireOutstanding() {
            if (outstanding < 0) {
                return false;
            }
            outstanding = -1;
            record(false);
            return true;
        }

        /**
         * The answer to probe {@code seq}: RTT smoothed as TCP does (7/8 old, 1/8 new), and jitter
         * as RFC 3550 computes it, from the difference between consecutive RTTs (1/16 gain).
         * False for an answer to a probe already counted lost, or not ours.
         */
        synchronized boolean answered(int seq, long at) {
            if (seq != outstanding) {
                return false;
            }
            outstanding = -1;
            long rtt = at - sentAt;
            if (lastRttNanos >= 0) {
                jitterNanos += (Math.abs(rtt - lastRttNanos) - jitterNanos) / 16;
            }
            lastRttNanos = rtt;
            answers++;
            smoothedRttNanos = smoothedRttNanos < 0 ? rtt : (smoothedRttNanos * 7 + rtt) / 8;
            record(true);
            return true;
        }

        private void record(boolean answered) {
            window[windowNext] = answered;
            windowNext = (windowNext + 1) % LOSS_WINDOW;
            windowFill = Math.min(windowFill + 1, LOSS_WINDOW);
        }

        /** The smoothed RTT in seconds; NaN before the first answer. */
        synchronized double rttSeconds() {
            return smoothedRttNanos < 0 ? Double.NaN : smoothedRttNanos / 1e9;
        }

        /** The jitter in seconds; NaN before two answers. */
        synchronized double jitterSeconds() {
            return answers < 2 ? Double.NaN : jitterNanos / 1e9;
        }

        /** The share of the last {@value LinkQuality#LOSS_WINDOW} probes that went unanswered; NaN before any. */
        synchronized double lossRatio() {
            if (windowFill == 0) {
                return Double.NaN;
            }
            int lost = 0;
            for (int i = 0; i < windowFill; i++) {
                if (!window[i]) {
                    lost++;
                }
            }
            return (double) lost / windowFill;
        }
    }
}
