package io.cloudbridge.ice.internal;

import io.cloudbridge.api.mesh.PathInfo;
import io.cloudbridge.api.mesh.PathKind;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * A peer's path in words, for cb:peers and the paths: what carries it and, while the relay
 * does, why no direct path does. {@link #info} runs on any thread, so it reads only what the engine
 * publishes through volatile fields.
 */
final class PathStatus {
    private PathStatus() {
    }

    static PathInfo info(PeerSession s) {
        Selection.PairPath p = s.selection.path;
        if (p != null) {
            long rtt = s.consent.rttNanos;
            String through = switch (p.kind) {
                case TURN -> p.via instanceof TurnClient t ? "TURN server " + address(t.server) : "the peer's TURN server";
                case MASQUE -> "the MASQUE proxy at " + ((MasqueBase) p.via).proxy();
                default -> null;
            };
            return new PathInfo(p.kind(), rtt < 0 ? Optional.empty() : Optional.of(Duration.ofNanos(rtt)),
                    Optional.ofNullable(s.selection.selectedDescription), through == null ? Optional.empty()
                            : Optional.of("no direct pair succeeded; through " + through));
        }
        String why = s.reason;
        if (s.gatherer.udpBlocked) {
            why = why + "; no STUN server answers this node: UDP seems blocked here";
        }
        return new PathInfo(PathKind.RELAY, Optional.empty(), Optional.empty(), Optional.of(why));
    }

    /** Why a round found nothing, {@code ordered} its pairs; on the engine's thread (it reads our candidates). */
    static String describeFailure(List<CandidatePair> ordered, Gatherer gatherer) {
        if (ordered.isEmpty()) {
            return "the peer offered no candidate this node can reach";
        }
        boolean any = ordered.stream().anyMatch(p -> p.succeeded);
        if (any) {
            return "a pair answered but was not nominated";
        }
        String theirs = ordered.stream().map(p -> p.remote.type().token).distinct().reduce((a, b) -> a + "," + b).orElse("");
        String ours = gatherer.localCandidates().stream().map(c -> c.type().token).distinct().reduce((a, b) -> a + "," + b).orElse("");
        String hint = theirs.contains("srflx") || theirs.contains("prflx") ? "" : "; the peer has no public UDP endpoint (UDP blocked on its side?)";
        return "no candidate pair succeeded (ours: " + ours + "; theirs: " + theirs + ")" + hint;
    }

    static String address(InetSocketAddress a) {
        return a == null ? "?" : (a.getAddress() instanceof java.net.Inet6Address ? "[" + a.getAddress().getHostAddress() + "]"
                : a.getAddress().getHostAddress()) + ":" + a.getPort();
    }
}
