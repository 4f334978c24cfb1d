package io.cloudbridge.ice.internal;

import io.cloudbridge.api.mesh.PathKind;
import java.net.InetSocketAddress;

/** A candidate pair: a local base (our socket, or a TURN allocation made from it) and one remote candidate. */
final class CandidatePair {
    /** A pair's identity: the local base (the socket, or a TURN allocation on it) and the remote address. */
    record Key(IceEngine.Base via, InetSocketAddress remote) {
    }

    final Candidate remote;
    final IceEngine.Base via;
    long succeededNanos;
    long priority;
    boolean succeeded;
    boolean failed;
    boolean nominatedByPeer;
    int attempts;
    long lastSentNanos;
    InetSocketAddress seenAs; // our address as the peer saw it: which local candidate the pair is
    long rttNanos;

    CandidatePair(Candidate remote, IceEngine.Base via) {
        this.remote = remote;
        this.via = via;
    }

    Key key() {
        return new Key(via, remote.address());
    }

    /** How the pair's packets travel: through our base (a TURN allocation, a MASQUE tunnel), or the peer's relayed candidate. */
    PathKind kind() {
        if (via != null && via.kind() != PathKind.DIRECT) {
            return via.kind();
        }
        return remote.type() == Candidate.Type.RELAY ? PathKind.TURN : PathKind.DIRECT;
    }

    /** Through a third party (a TURN server, a MASQUE proxy): a direct pair is worth more. */
    boolean detour() {
        return kind() != PathKind.DIRECT;
    }
}
