package io.cloudbridge.masque.internal;

import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/** The proxy's dropped datagrams, counted by where they were dropped (masque:tunnels shows them). */
final class DatagramDrops {
    enum Reason {
        /** A datagram with no context, or one this proxy never agreed to. */
        UNKNOWN_CONTEXT("unknown context"),
        /** For no tunnel: before the proxy answered, or after the tunnel closed. */
        NO_TUNNEL("no tunnel"),
        /** Over masque.maxPayload: a UDP datagram is dropped, not cut. */
        TOO_LARGE("too large"),
        /** The tunnel's UDP socket had no room: UDP drops rather than queues. */
        TARGET_SOCKET_FULL("target socket full"),
        /** The target answered with an ICMP error (port unreachable) for the connected socket. */
        TARGET_ERROR("target error"),
        /** Too many of the target's answers waited for the client's connection. */
        CLIENT_BEHIND("client connection behind"),
        /** Neither a QUIC datagram nor the stream could take it (the stream's buffer full). */
        CLIENT_STREAM_FULL("client stream full");

        final String text;

        Reason(String text) {
            this.text = text;
        }
    }

    private final Map<Reason, LongAdder> counts = new EnumMap<>(Reason.class);

    DatagramDrops() {
        for (Reason r : Reason.values()) {
            counts.put(r, new LongAdder());
        }
    }

    void count(Reason reason) {
        counts.get(reason).increment();
    }

    long sum() {
        return counts.values().stream().mapToLong(LongAdder::sum).sum();
    }

    /** "0", or the total and its reasons: "12 (target socket full 10, no tunnel 2)". */
    String describe() {
        StringBuilder reasons = new StringBuilder();
        counts.forEach((r, n) -> {
            long v = n.sum();
            if (v > 0) {
                reasons.append(reasons.length() == 0 ? "" : ", ").append(r.text).append(' ').append(v);
            }
        });
        return reasons.length() == 0 ? "0" : sum() + " (" + reasons + ")";
    }
}
