package io.cloudbridge.ice.internal;

import io.cloudbridge.api.mesh.PathKind;
import io.cloudbridge.api.path.DirectPath;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;

/**
 * Which of one peer's pairs carries its packets (RFC 8445 8). Stages, in order:
 * <ol>
 * <li>nomination: the controlling side (the node with the larger key) nominates the best pair that
 * answered, once better pairs had a moment to answer too;
 * <li>selection: a nominated pair that answered is selected on both sides, and its path published
 * for the data path;
 * <li>withdrawal: a path that is gone (the peer moved, its base left) is unpublished, and the relay
 * carries the peer until checks confirm another.
 * </ol>
 * Runs on the engine's thread; {@link #path} and {@link #selectedDescription} are also read from
 * others.
 */
final class Selection {
    private static final Logger LOG = IceContext.LOG;

    private final IceContext ctx;
    private final PeerSession s;
    CandidatePair selected;
    volatile PairPath path;
    volatile String selectedDescription;
    private long lastNominationNanos;

    Selection(PeerSession s) {
        this.ctx = s.ctx;
        this.s = s;
    }

    /** The controlling side's part of a round's tick, {@code ordered} best first. */
    void nominate(List<CandidatePair> ordered, long now) {
        CandidatePair best = ordered.stream().filter(p -> p.succeeded).findFirst().orElse(null);
        if (s.controlling && best != null && (selected == null || selected != best)) {
            boolean betterPending = ordered.stream().anyMatch(p -> p.priority > best.priority && !p.failed && !p.succeeded);
            // Nominate the best pair that answered once the better ones had a moment to answer
            // too; a pair through TURN or a MASQUE proxy waits longer, since a direct pair often
            // answers a little later and is worth more (no third party, no detour).
            boolean waited = !best.detour() ? now - s.checklist.firstSuccessNanos > TimeUnit.MILLISECONDS.toNanos(150)
                    : now - best.succeededNanos > TimeUnit.SECONDS.toNanos(1);
            if ((!betterPending || waited)
                    && now - lastNominationNanos > TimeUnit.MILLISECONDS.toNanos(100)) {
                lastNominationNanos = now;
                s.checklist.send(best, PendingRequest.Purpose.NOMINATE, now);
            }
        }
    }

    void select(CandidatePair p) {
        boolean moved = selected != p;
        if (selected == null) {
            s.attemptSucceeded(p, System.nanoTime());
        }
        selected = p;
        s.probing.onSelected(p.via);
        if (!p.detour()) {
            s.checklist.roundStarted = -1;
            s.checklist.dropMasque(); // a direct path: the tunnels through the proxy are not needed (until it fails)
        } // else the round goes on: a direct pair that answers later is nominated over the TURN or MASQUE one
        s.consent.restart(p.rttNanos);
        s.retryDelayNanos = ctx.timers.retryMin().toNanos();
        String local = p.via != null ? p.via.describe() : s.gatherer.localType(p.seenAs) + " " + PathStatus.address(p.seenAs);
        selectedDescription = local + " -> " + p.remote.type().token + " " + PathStatus.address(p.remote.address());
        s.reason = "";
        s.lastFailure = null;
        s.probing.birthdayAttempts = 0;
        if (moved || path == null || !path.to.equals(p.remote.address()) || path.via != p.via) {
            path = new PairPath(ctx, p.remote.address(), p.via, p.kind());
            LOG.info("direct path to {}: {}, rtt {} ms", s.peer, selectedDescription,
                    String.format(Locale.ROOT, "%.2f", p.rttNanos / 1e6));
        }
    }

    void withdraw(String why) {
        LOG.info("direct path to {} ({}) withdrawn: {}; the relay carries it until a path is confirmed again", s.peer,
                selectedDescription, why);
        if (selected != null && s.probing.owns(selected.via)) {
            s.probing.dropBirthday();
        }
        selected = null;
        path = null;
        s.reason = why;
        if (s.checklist.roundStarted >= 0) {
            s.attemptStarts(System.nanoTime()); // the round under way now looks for the path (else the next one does)
        }
    }

    /** The path ICE selected to one peer: the pair's remote address, from the shared socket or through another base. */
    static final class PairPath implements DirectPath {
        private final IceContext ctx;
        final InetSocketAddress to;
        final IceEngine.Base via;
        /** DIRECT, or TURN (our allocation or the peer's relayed candidate), or MASQUE (our tunnel through a proxy). */
        final PathKind kind;

        PairPath(IceContext ctx, InetSocketAddress to, IceEngine.Base via, PathKind kind) {
            this.ctx = ctx;
            this.to = to;
            this.via = via;
            this.kind = kind;
        }

        @Override
        public PathKind kind() {
            return kind;
        }

        @Override
        public boolean send(ByteBuffer packet) {
            return ctx.sendVia(via, to, packet);
        }
    }
}
