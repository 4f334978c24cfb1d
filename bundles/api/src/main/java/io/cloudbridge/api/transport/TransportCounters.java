package io.cloudbridge.api.transport;

/**
 * A snapshot of a session's counters since it opened.
 *
 * @param packetsSent     overlay packets handed to the relay
 * @param bytesSent       their bytes
 * @param packetsReceived overlay packets received from the relay
 * @param bytesReceived   their bytes
 * @param packetsDropped  packets dropped by this end (too large, queue full, session not ready)
 */
public record TransportCounters(long packetsSent, long bytesSent, long packetsReceived, long bytesReceived,
        long packetsDropped) {

    public static final TransportCounters ZERO = new TransportCounters(0, 0, 0, 0, 0);
}
