package io.cloudbridge.ice.internal;

import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;

/**
 * Consent freshness on one peer's selected pair (RFC 7675, on a much shorter timer, so that a path
 * that stopped working costs the peer little). Stages, in order:
 * <ol>
 * <li>selection starts the clock and takes the pair's check RTT as the first estimate;
 * <li>every consent interval, a check on the selected pair;
 * <li>each answer renews consent and smooths the RTT (7/8 old, 1/8 new);
 * <li>silence past the consent timeout: the path is dropped, the relay carries the peer, and the
 * session tries again after a backoff.
 * </ol>
 * Runs on the engine's thread; {@link #rttNanos} is also read from others.
 */
final class ConsentFreshness {
    private static final Logger LOG = IceContext.LOG;

    private final IceContext ctx;
    private final PeerSession s;
    volatile long rttNanos = -1;
    private long lastConsentNanos;
    private long lastConsentSentNanos;

    ConsentFreshness(PeerSession s) {
        this.ctx = s.ctx;
        this.s = s;
    }

    /** A pair was selected: consent holds from now, and its check's RTT is the first estimate. */
    void restart(long pairRttNanos) {
        lastConsentNanos = System.nanoTime();
        rttNanos = pairRttNanos;
    }

    void keepConsent(long now) {
        Selection selection = s.selection;
        if (now - lastConsentNanos > ctx.timers.consentTimeout().toNanos()) {
            LOG.info("direct path to {} ({}) stopped answering for {} ms: back to the relay", s.peer, selection.selectedDescription,
                    TimeUnit.NANOSECONDS.toMillis(now - lastConsentNanos));
            boolean onBirthdaySocket = s.probing.owns(selection.selected.via);
            ctx.meters.lost(selection.selected.kind());
            selection.selected = null;
            selection.path = null;
            if (s.checklist.roundStarted >= 0) {
                s.attemptStarts(now); // a round still under way (on TURN, looking for a direct pair) now looks for any path
            }
            if (onBirthdaySocket) {
                s.probing.dropBirthday();
            }
            s.reason = "the direct path stopped answering";
            s.lastFailure = s.reason;
            s.retryAtNanos = now + s.retryDelayNanos;
            s.retryDelayNanos = Math.min(s.retryDelayNanos * 2, ctx.timers.retryMax().toNanos());
            return;
        }
        if (now - lastConsentSentNanos >= ctx.timers.consentInterval().toNanos() && s.remotePassword != null) {
            lastConsentSentNanos = now;
            s.checklist.send(selection.selected, PendingRequest.Purpose.CONSENT, now);
        }
    }

    /** A consent check was answered; one for a pair no longer selected renews nothing. */
    void onAnswer(CandidatePair p, long rtt) {
        if (p == s.selection.selected) {
            lastConsentNanos = System.nanoTime();
            rttNanos = rttNanos < 0 ? rtt : (rttNanos * 7 + rtt) / 8;
        }
    }
}
