package io.cloudbridge.api.mesh;

import java.time.Duration;
import java.util.Optional;

/**
 * What a node knows of its path to one peer: users ask for exactly this.
 *
 * @param kind          the path in use
 * @param rtt           the last measured round-trip time, if any
 * @param candidatePair the selected ICE pair in words, e.g. {@code host 10.0.0.2:5100 -> srflx
 *                      198.51.100.7:41641}, if direct
 * @param relayedReason why the peer is relayed (no pair succeeded, NAT types, UDP blocked,
 *                      policy), if relayed
 */
public record PathInfo(PathKind kind, Optional<Duration> rtt, Optional<String> candidatePair,
        Optional<String> relayedReason) {
}
