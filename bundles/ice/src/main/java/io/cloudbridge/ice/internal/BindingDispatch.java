package io.cloudbridge.ice.internal;

import io.cloudbridge.boot.log.Correlation;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;

/**
 * Where a decoded STUN binding message goes. Stages, in order:
 * <ol>
 * <li>a request (a peer's check): found by the username's first half, our ufrag (the previous one
 * still counts a while after a restart); its integrity checked with that ufrag's password; answered
 * from the base it came to; then handed to the session's checklist;
 * <li>an answer: matched to our request in flight by transaction id, from the address and base
 * the request went to, signed with the password it was sent with; then by purpose: a STUN
 * server's answer to gathering, a probe's to birthday probing, a check's or consent's to the
 * checklist.
 * </ol>
 * Whatever fails a stage is counted and dropped, unanswered: a stranger gets no reflection. Runs
 * on the engine's thread.
 */
final class BindingDispatch {
    private final IceContext ctx;
    private final Gatherer gatherer;

    BindingDispatch(IceContext ctx, Gatherer gatherer) {
        this.ctx = ctx;
        this.gatherer = gatherer;
    }

    void handle(InetSocketAddress from, IceWire.Received m, IceEngine.Base via) {
        if (m.isRequest()) {
            onCheck(from, m, via);
            return;
        }
        String tid = PendingRequest.key(m.message().getTransactionID());
        PendingRequest p = ctx.pending.get(tid);
        if (p == null) {
            ctx.count("answer to no request of ours");
            return;
        }
        if (!from.equals(p.to()) || via != p.via()) {
            ctx.count("answer from another address"); // RFC 8445 7.2.5.2.1: not symmetric, not a valid pair
            return;
        }
        if (p.purpose() != PendingRequest.Purpose.STUN && !m.signedWith(p.password())) {
            ctx.count("answer failed integrity"); // a forged answer must not cancel the real one
            return;
        }
        ctx.pending.remove(tid);
        if (p.purpose() == PendingRequest.Purpose.STUN) {
            InetSocketAddress seen = m.isSuccess() ? m.mapped() : null;
            if (seen != null) {
                gatherer.onReflexive(p.to(), seen);
            } else {
                ctx.count("STUN server refused");
            }
            return;
        }
        PeerSession s = p.session();
        if (ctx.sessions.get(s.peer) != s) {
            ctx.count("answer for an ended session");
            return;
        }
        if (!m.isSuccess()) {
            ctx.count("check refused");
            return;
        }
        try (Correlation.Scope flow = Correlation.open(s.correlationId())) {
            if (p.purpose() == PendingRequest.Purpose.PROBE) {
                s.probing.onProbeAnswered(p, from, m.mapped());
                return;
            }
            s.checklist.onSuccess(p, m.mapped());
        }
    }

    private void onCheck(InetSocketAddress from, IceWire.Received m, IceEngine.Base via) {
        String username = m.username();
        int colon = username == null ? -1 : username.indexOf(':');
        PeerSession s = colon < 1 ? null : ctx.byLocalUfrag.get(username.substring(0, colon));
        if (s == null) {
            ctx.count("check for no session of ours");
            return;
        }
        String ufrag = username.substring(0, colon);
        boolean previous = ufrag.equals(s.previousUfrag) && !ufrag.equals(s.localUfrag);
        if (previous && System.nanoTime() > s.previousUntilNanos) {
            ctx.byLocalUfrag.remove(ufrag);
            s.previousUfrag = null;
            ctx.count("check for no session of ours");
            return;
        }
        String password = previous ? s.previousPassword : s.localPassword;
        if (!m.signedWith(password)) {
            ctx.count("check failed integrity");
            return;
        }
        ctx.sendVia(via, from, ByteBuffer.wrap(ctx.wire.success((org.ice4j.message.Request) m.message(), from, ufrag, password)));
        if (previous) {
            return; // answered, so a working path keeps its consent; the checks of the new credentials decide the rest
        }
        try (Correlation.Scope flow = Correlation.open(s.correlationId())) {
            s.checklist.onCheck(from, m.priority(), m.nominates(), via);
        }
    }
}
