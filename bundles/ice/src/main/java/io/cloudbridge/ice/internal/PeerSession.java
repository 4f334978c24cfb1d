package io.cloudbridge.ice.internal;

import io.cloudbridge.boot.log.Correlation;
import io.cloudbridge.api.net.NodeKey;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;

/**
 * One peer's ICE session: the state its protocol roles share (credentials, why it is relayed, when
 * to try again), and the offer exchange that feeds them. Stages, in order:
 * <ol>
 * <li>offer: our credentials and candidates go out over signalling, again with backoff until the
 * peer answers;
 * <li>the peer's offer: its credentials start a round of checks ({@link Checklist}); the same
 * credentials with more candidates only add pairs;
 * <li>each tick: consent on the selected pair ({@link ConsentFreshness}), birthday probing
 * ({@link BirthdayProbing}), the round's checks and nomination ({@link Checklist},
 * {@link Selection}), or, once a round failed, a restart with new credentials after a backoff.
 * </ol>
 * Runs on the engine's thread; {@link #reason} is also read from others.
 */
final class PeerSession {
    private static final Logger LOG = IceContext.LOG;

    final IceContext ctx;
    final Gatherer gatherer;
    final NodeKey peer;
    final boolean controlling;
    final long tieBreaker = IceContext.RANDOM.nextLong() >>> 1;
    String localUfrag = randomIceChars(8);
    String localPassword = randomIceChars(24);
    String previousUfrag;
    String previousPassword;
    long previousUntilNanos;
    /** How long to wait before asking for the peer's offer again: doubles while it does not answer (an offline node). */
    long offerRetryNanos;
    String remoteUfrag;
    String remotePassword;
    List<InetAddress> remoteHosts = List.of();
    boolean offerAnswered;
    long lastOfferNanos;
    volatile String reason = "waiting for the peer's candidates";
    /** Why the last round or path failed, until a path is found: what users see while it checks again. */
    String lastFailure;
    long retryAtNanos = -1;
    long retryDelayNanos;
    /** When the path attempt under way started, or -1 while none is (a pair is selected, or a failed round waits out its backoff). */
    private long attemptStartedNanos = -1;
    final Checklist checklist;
    final Selection selection;
    final ConsentFreshness consent;
    final BirthdayProbing probing;

    PeerSession(IceContext ctx, Gatherer gatherer, NodeKey peer) {
        this.ctx = ctx;
        this.gatherer = gatherer;
        this.peer = peer;
        this.controlling = compare(ctx.self.toBytes(), peer.toBytes()) > 0;
        this.offerRetryNanos = ctx.timers.offerRetry().toNanos();
        this.retryDelayNanos = ctx.timers.retryMin().toNanos();
        this.checklist = new Checklist(this);
        this.selection = new Selection(this);
        this.consent = new ConsentFreshness(this);
        this.probing = new BirthdayProbing(this);
    }

    /**
     * The path attempt's id, the same on both nodes: the controlling side's credentials name it, so
     * new credentials (a restart) are a new attempt; null on the controlled side until the
     * controlling side's offer arrives. In every log line of the attempt, here, on the relay that
     * forwards its offers, and on the peer.
     */
    String correlationId() {
        String ufrag = controlling ? localUfrag : remoteUfrag;
        if (ufrag != idUfrag) { // (credentials are replaced, never changed in place: identity tells)
            idUfrag = ufrag;
            id = idOf(ufrag);
        }
        return id;
    }

    /** The id {@link #correlationId} made last, and of which credentials: made again only when they change (each tick asks). */
    private String id;
    private String idUfrag;

    /** The id of the attempt whose controlling side has {@code ufrag}. */
    static String idOf(String ufrag) {
        return ufrag == null ? null : "ice-" + java.util.HexFormat.of().formatHex(ufrag.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
    }

    void sendOffer(boolean wantsAnswer) {
        lastOfferNanos = System.nanoTime();
        if (wantsAnswer) {
            offerAnswered = false;
        }
        IceOffer offer = new IceOffer(localUfrag, localPassword, wantsAnswer, gatherer.localCandidates());
        boolean sent;
        // Under the attempt its credentials name, whoever calls (a tick, a trickled candidate, a restart).
        try (Correlation.Scope flow = Correlation.open(correlationId())) {
            sent = ctx.signals.send(peer, offer.encode());
        }
        if (!sent) {
            LOG.debug("offer to {} not sent now (signalling down); trying again", peer);
            offerAnswered = false; // sent again when signalling is back (resendUnansweredOffers) or at the retry
        }
    }

    void onOffer(IceOffer offer) {
        offerAnswered = true;
        offerRetryNanos = ctx.timers.offerRetry().toNanos();
        List<Candidate> usable = offer.candidates().stream().filter(gatherer::reachableFamily).toList();
        List<InetAddress> remoteHosts = offer.candidates().stream().filter(c -> c.type() == Candidate.Type.HOST)
                .map(c -> c.address().getAddress()).sorted(java.util.Comparator.comparing(InetAddress::getHostAddress)).toList();
        if (!offer.ufrag().equals(remoteUfrag)) {
            boolean first = remoteUfrag == null;
            if (!first && selection.path != null && !remoteHosts.equals(this.remoteHosts)) {
                // The peer restarted with other addresses of its own: it moved, and the path to where it was is gone.
                selection.withdraw("the peer's addresses changed");
            }
            this.remoteHosts = remoteHosts;
            remoteUfrag = offer.ufrag();
            remotePassword = offer.password();
            // The peer's checks travel straight and often arrive before its offer, which comes
            // through the relay. On its first credentials, the pairs those checks made stay: they
            // hold the peer's address as its NAT maps it toward us (peer-reflexive) and any
            // nomination. Dropped, the controlling side never sent another nomination (it had its
            // answer and the path), and the peer, whose own checks had been answered, stopped
            // checking: this side had no pair left that could answer and stayed relayed until the
            // retry (2 to 6 tries in 20 in the bench's first rounds). On new credentials (the
            // peer restarted) only a nominated pair stays.
            if (!first) {
                checklist.pairs.values().removeIf(p -> !p.nominatedByPeer);
            }
            checklist.pruneMasque(usable);
            usable.forEach(checklist::addPair);
            LOG.debug("{} credentials from {}: {} candidates", first ? "first" : "new", peer, usable.size());
            checklist.startRound();
        } else {
            int before = checklist.pairs.size();
            usable.forEach(checklist::addPair);
            if (checklist.pairs.size() > before && selection.selected == null && checklist.roundStarted < 0) {
                checklist.startRound();
            }
        }
        // Every offer carries all the sender's candidates: its server-reflexive ones tell its NAT's mapping.
        // Only what birthday probing may be aimed at: reachable, public, one address, two ports at most.
        List<InetSocketAddress> srflx = usable.stream()
                .filter(c -> c.type() == Candidate.Type.SRFLX && !Checklist.isPrivate(c.address().getAddress()))
                .map(Candidate::address).toList();
        probing.remoteSrflx = srflx.stream().filter(a -> a.getAddress().equals(srflx.get(0).getAddress())).limit(2).toList();
        if (offer.wantsAnswer()) {
            sendOffer(false);
        }
    }

    /** Starts over with new credentials: the peer learns them from our offer and answers with its own. */
    void restart(String why) {
        // The previous credentials stay valid a while: the peer's consent checks on a path that
        // still works use them until our offer reaches it.
        if (previousUfrag != null) {
            ctx.byLocalUfrag.remove(previousUfrag);
        }
        previousUfrag = localUfrag;
        previousPassword = localPassword;
        previousUntilNanos = System.nanoTime() + 2 * ctx.timers.consentTimeout().toNanos() + ctx.timers.offerRetry().toNanos();
        localUfrag = randomIceChars(8);
        localPassword = randomIceChars(24);
        ctx.byLocalUfrag.put(localUfrag, this);
        offerRetryNanos = ctx.timers.offerRetry().toNanos();
        checklist.startRound();
        if (selection.path == null && lastFailure == null) {
            reason = why + "; checking again";
        }
        sendOffer(true);
    }

    /**
     * A path attempt starts at {@code nanos}, unless one is under way or a pair is selected. An
     * attempt runs from its first round of checks (the offers before it wait on the peer being
     * online, which says nothing of the path) to the selection of a pair or the end of a round
     * without one.
     */
    void attemptStarts(long nanos) {
        if (attemptStartedNanos < 0 && selection.selected == null) {
            attemptStartedNanos = nanos;
        }
    }

    /** A pair was selected where none was: the attempt under way, if any, succeeded. */
    void attemptSucceeded(CandidatePair p, long now) {
        ctx.meters.established(p.kind(), attemptStartedNanos < 0 ? -1 : now - attemptStartedNanos);
        attemptStartedNanos = -1;
    }

    /** A round ended without a pair selected: the attempt under way failed (a round that began with a pair selected was none). */
    void attemptFailed() {
        if (attemptStartedNanos >= 0) {
            ctx.meters.failed();
            attemptStartedNanos = -1;
        }
    }

    void tick(long now) {
        if (!offerAnswered && now - lastOfferNanos > offerRetryNanos) {
            // Lost, or the peer is not connected yet: ask again, less often while it stays silent.
            offerRetryNanos = Math.min(offerRetryNanos * 2, TimeUnit.SECONDS.toNanos(30));
            sendOffer(true);
        }
        if (selection.selected != null) {
            consent.keepConsent(now);
        }
        if (remotePassword == null) {
            return;
        }
        probing.probe(now);
        if (checklist.roundStarted >= 0) {
            checklist.check(now);
        } else if (selection.selected == null && retryAtNanos >= 0 && now >= retryAtNanos) {
            retryAtNanos = -1;
            restart(reason);
        } else if (selection.selected != null && selection.selected.detour() && retryAtNanos >= 0 && now >= retryAtNanos) {
            retryAtNanos = -1;
            checklist.startRound();
        }
    }

    private static String randomIceChars(int length) {
        String alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        StringBuilder out = new StringBuilder(length);
        for (int i = 0; i < length; i++) {
            out.append(alphabet.charAt(IceContext.RANDOM.nextInt(alphabet.length())));
        }
        return out.toString();
    }

    private static int compare(byte[] a, byte[] b) {
        return java.util.Arrays.compareUnsigned(a, b);
    }
}
