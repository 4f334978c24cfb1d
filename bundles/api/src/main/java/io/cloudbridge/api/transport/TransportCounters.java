package io.cloudbridge.api.transport;

import java.util.Map;

/**
 * A snapshot of a session's counters since it opened.
 *
 * @param packetsSent     overlay packets handed to the relay
 * @param bytesSent       their bytes
 * @param packetsReceived overlay packets received from the relay
 * @param bytesReceived   their bytes
 * @param packetsDropped  packets dropped by this end (too large, queue full, session not ready)
 * @param dropsByReason   the same drops by where they happened (a reason, such as "queue full", to a
 *                        count; only reasons that occurred), so that a loss can be traced to its queue
 */
public record TransportCounters(long packetsSent, long bytesSent, long packetsReceived, long bytesReceived,
        long packetsDropped, Map<String, Long> dropsByReason) {

    public static final TransportCounters ZERO = new TransportCounters(0, 0, 0, 0, 0);

    public TransportCounters {
        dropsByReason = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(dropsByReason)); // in the order given
    }

    /** Counters with no breakdown of the drops. */
    public TransportCounters(long packetsSent, long bytesSent, long packetsReceived, long bytesReceived, long packetsDropped) {
        this(packetsSent, bytesSent, packetsReceived, bytesReceived, packetsDropped, Map.of());
    }
}
