package io.cloudbridge.paths.internal;

import io.cloudbridge.api.transport.HomeRelay;
import io.cloudbridge.api.transport.RelayEndpoint;
import io.cloudbridge.api.transport.RelayTransport;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The transport race and selection policy: which installed transports can reach the home relay
 * and in which order, which connected session carries the peers, and which transport is dialled
 * next. Decisions only, over the path layer's state as the caller passes it; the path layer acts
 * on them (switches, closes, dials) on its decisions thread.
 */
final class TransportRace {
    /** Best first: lower priority first, then by name so that the order is the same on every node. */
    static final Comparator<RelayTransport> BEST_FIRST =
            Comparator.comparingInt(RelayTransport::priority).thenComparing(RelayTransport::name);

    private TransportRace() {
    }

    /** The transports that can reach the home relay, best first. */
    static List<RelayTransport> candidates(List<RelayTransport> transports, HomeRelay relay) {
        List<RelayTransport> out = new ArrayList<>();
        for (RelayTransport t : transports) {
            if (endpointFor(t, relay).isPresent()) {
                out.add(t);
            }
        }
        out.sort(BEST_FIRST);
        return out;
    }

    static Optional<RelayEndpoint> endpointFor(RelayTransport t, HomeRelay relay) {
        return relay.endpoints().stream().filter(t::supports).findFirst();
    }

    /**
     * The session that should carry the peers, or null when none is connected.
     *
     * @param ranked   the candidates, best first
     * @param attempts the attempts and sessions by transport
     * @param current  the session carrying the peers now, if any
     */
    static RelayAttempt carrier(List<RelayTransport> ranked, Map<RelayTransport, RelayAttempt> attempts, RelayAttempt current) {
        // The best connected session carries the peers; better ones still connecting may replace it.
        // One still finding its packet size (QUIC's path MTU discovery) takes the peers only from
        // no path at all, or from a worse one once it has found it: moving onto it earlier would
        // lose their full-size packets meanwhile. One the relay is letting go keeps them only
        // until another has connected.
        RelayAttempt best = null;
        RelayAttempt bestConnected = null;
        for (RelayTransport t : ranked) {
            RelayAttempt a = attempts.get(t);
            if (a != null && a.connected()) {
                if (bestConnected == null || bestConnected.session.goingAway() && !a.session.goingAway()) {
                    bestConnected = a;
                }
                if (a.session.packetSizeSettled() && !a.session.goingAway()) {
                    best = a;
                    break;
                }
            }
        }
        if (best == null) {
            best = bestConnected;
        } else if (current != null && current != best && current.connected() && !current.session.goingAway()
                && attempts.get(current.transport) == current && ranked.indexOf(current.transport) >= 0
                && ranked.indexOf(current.transport) < ranked.indexOf(best.transport)) {
            best = current; // better than the settled one, and carrying the peers already
        }
        return best;
    }

    /**
     * The transport to dial now, if any: one better than the session in use, the best first, the
     * next one when the better has been trying for longer than the race delay without connecting.
     *
     * @param best       the session carrying the peers, if any
     * @param raceNanos  the head start each transport has over the next
     */
    static RelayTransport next(List<RelayTransport> ranked, Map<RelayTransport, RelayAttempt> attempts, RelayAttempt best,
            TransportRetries retries, long nowNanos, long raceNanos) {
        boolean leavingBest = best != null && best.session.goingAway();
        for (RelayTransport t : ranked) {
            if (best != null && t == best.transport) {
                if (!leavingBest) {
                    break;
                }
                continue; // the relay is letting it go: the next transport is started at once
            }
            RelayAttempt a = attempts.get(t);
            if (a == null) {
                if (retries.setAside(t, nowNanos)) {
                    continue; // failed recently: the next one gets its chance meanwhile
                }
                return t;
            }
            if (nowNanos - a.startedNanos < raceNanos) {
                break; // still within its head start
            }
        }
        return null;
    }
}
