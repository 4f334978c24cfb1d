package io.cloudbridge.ice.internal;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;

/**
 * One peer's candidate pairs and the connectivity checks on them (RFC 8445 6.1.4 and 7). Stages,
 * in order:
 * <ol>
 * <li>pairing: each remote candidate with the overlay's socket, each TURN allocation of its family
 * and, while the MASQUE path is on, a tunnel to it; the peer's checks add peer-reflexive pairs;
 * <li>a round: every pair starts unchecked; the two best unanswered pairs are checked per tick,
 * retransmitted at 100, 200, 400 ms, then every 400 ms, at most eight times;
 * <li>triggered checks: a check from the peer on a pair not confirmed yet is answered with ours;
 * <li>success: an answer marks its pair, and the controlling side nominates ({@link Selection});
 * <li>timeout: what did not answer has failed; without a path the session tries again after a
 * backoff (and birthday probing, where it applies).
 * </ol>
 * Runs on the engine's thread.
 */
final class Checklist {
    private static final Logger LOG = IceContext.LOG;
    /** Checks per pair per round: 100, 200, 400 ms apart, then 400: about 2.5 s of trying. */
    private static final int MAX_CHECKS_PER_ROUND = 8;
    /** Tunnels per peer at most: its public candidates, which are one or two. */
    static final int MASQUE_TUNNELS_PER_PEER = 4;

    private final IceContext ctx;
    private final PeerSession s;
    final Map<CandidatePair.Key, CandidatePair> pairs = new LinkedHashMap<>();
    long roundStarted = -1;
    long firstSuccessNanos = -1;
    /** Tunnels through the MASQUE proxy, one per public remote candidate (while the MASQUE path is on). */
    final Map<InetSocketAddress, MasqueBase> masqueBases = new HashMap<>();

    Checklist(PeerSession s) {
        this.ctx = s.ctx;
        this.s = s;
    }

    /**
     * Pairs the remote candidate with the socket and with each allocation of its address
     * family; a peer's private addresses are not paired with an allocation: a TURN server out
     * on the internet cannot reach them (and, were one on the server's own LAN, it would be
     * another host), and coturn closes an allocation whose relayed datagram finds no route.
     */
    void addPair(Candidate remote) {
        addPair(remote, null);
        if (isPrivate(remote.address().getAddress())) {
            return; // whatever its type: a peer must not be able to aim the TURN server into its own network
        }
        if (ctx.masque != null && remote.type() != Candidate.Type.PRFLX) {
            MasqueBase m = masqueBases.get(remote.address());
            if (m == null && masqueBases.size() < MASQUE_TUNNELS_PER_PEER) {
                m = new MasqueBase(remote.address(), ctx.masque, (base, payload) -> ctx.baseInput.receive(base, base.target, payload));
                masqueBases.put(remote.address(), m);
            }
            if (m != null) {
                addPair(remote, m);
            }
        }
        for (TurnClient t : s.gatherer.turns) {
            InetSocketAddress relayed = t.relayedAddress();
            if (relayed != null && (relayed.getAddress() instanceof java.net.Inet4Address)
                    == (remote.address().getAddress() instanceof java.net.Inet4Address)) {
                addPair(remote, t);
            }
        }
    }

    void addPair(Candidate remote, IceEngine.Base via) {
        if (via instanceof TurnClient && isPrivate(remote.address().getAddress())) {
            return; // also for peer-reflexive addresses a check through the allocation came from
        }
        CandidatePair.Key k = new CandidatePair.Key(via, remote.address());
        CandidatePair p = pairs.get(k);
        if (p == null) {
            if (pairs.size() >= 4 * IceOffer.MAX_CANDIDATES) {
                // Peer-reflexive addresses must not grow without end, nor lock out the next one:
                // the oldest that never answered makes room (a hard side's 256 probing sockets
                // can fill the list with checks an address-dependent filter let in, and the
                // pair the peer nominates next must still find a place; seen in the lab).
                CandidatePair oldest = pairs.values().stream().filter(o -> o.remote.type() == Candidate.Type.PRFLX && !o.succeeded
                        && !o.nominatedByPeer && o != s.selection.selected).findFirst().orElse(null);
                if (oldest == null) {
                    return;
                }
                pairs.remove(oldest.key());
            }
            p = new CandidatePair(remote, via);
            pairs.put(k, p);
        }
        long local = via == null ? Candidate.priority(Candidate.Type.HOST, remote.address().getAddress(), 0)
                : Candidate.priority(Candidate.Type.RELAY, remote.address().getAddress(), 0);
        p.priority = s.controlling ? Candidate.pairPriority(local, remote.priority()) : Candidate.pairPriority(remote.priority(), local);
    }

    void startRound() {
        roundStarted = System.nanoTime();
        s.attemptStarts(roundStarted);
        firstSuccessNanos = -1;
        s.retryAtNanos = -1;
        for (CandidatePair p : pairs.values()) {
            p.attempts = 0;
            p.failed = false;
            p.succeeded = false;
            p.lastSentNanos = 0;
        }
        if (s.selection.path == null) {
            s.reason = s.lastFailure == null ? "checking " + pairs.size() + " candidate pairs" : s.lastFailure + "; checking again";
        }
    }

    void check(long now) {
        long elapsed = now - roundStarted;
        List<CandidatePair> ordered = new ArrayList<>(pairs.values());
        ordered.sort(Comparator.comparingLong((CandidatePair p) -> p.priority).reversed());
        int sent = 0;
        for (CandidatePair p : ordered) {
            if (p.succeeded || p.failed || sent == 2) {
                continue;
            }
            // Retransmissions at 100, 200, 400 ms, then every 400 ms until the round's timeout.
            long rto = TimeUnit.MILLISECONDS.toNanos(100L << Math.min(Math.max(p.attempts - 1, 0), 2));
            if (p.attempts >= MAX_CHECKS_PER_ROUND) {
                continue; // RFC 8489's Rc: a pair that never answered is not hammered (its peer's checks trigger ours)
            }
            if (p.attempts == 0 || now - p.lastSentNanos >= rto) {
                send(p, PendingRequest.Purpose.CHECK, now);
                sent++;
            }
        }
        s.selection.nominate(ordered, now);
        if (elapsed > ctx.timers.checkTimeout().toNanos()) {
            roundStarted = -1;
            ordered.forEach(p -> p.failed = p.failed || !p.succeeded);
            if (s.selection.selected == null) {
                s.attemptFailed();
                s.reason = PathStatus.describeFailure(ordered, s.gatherer);
                s.lastFailure = s.reason;
                s.retryAtNanos = now + s.retryDelayNanos;
                LOG.info("no direct path to {}: {}; trying again in {} s", s.peer, s.reason, TimeUnit.NANOSECONDS.toSeconds(s.retryDelayNanos));
                s.retryDelayNanos = Math.min(s.retryDelayNanos * 2, ctx.timers.retryMax().toNanos());
                s.probing.maybeBirthday(now);
            } else if (s.selection.selected.detour()) {
                // On TURN (or MASQUE) for want of better: direct checks again later (same credentials, the
                // TURN pair keeps carrying the peer meanwhile), and birthday probing if it applies.
                s.retryAtNanos = now + s.retryDelayNanos;
                s.retryDelayNanos = Math.min(s.retryDelayNanos * 2, ctx.timers.retryMax().toNanos());
                s.probing.maybeBirthday(now);
            }
        }
    }

    /**
     * The peer's candidates changed (it restarted, it moved): tunnels to addresses it no longer
     * offers close and make room, unless one carries the path now.
     */
    void pruneMasque(List<Candidate> offered) {
        Set<InetSocketAddress> still = new java.util.HashSet<>();
        offered.forEach(c -> still.add(c.address()));
        for (java.util.Iterator<MasqueBase> it = masqueBases.values().iterator(); it.hasNext(); ) {
            MasqueBase b = it.next();
            if (!still.contains(b.target) && (s.selection.selected == null || s.selection.selected.via != b)) {
                b.close();
                it.remove();
                pairs.values().removeIf(p -> p.via == b);
            }
        }
    }

    /** Closes the tunnels through the MASQUE proxy (a direct path was found, or the peer left); a later check opens them again. */
    void dropMasque() {
        masqueBases.values().forEach(MasqueBase::close);
    }

    void send(CandidatePair p, PendingRequest.Purpose purpose, long now) {
        byte[] tid = PendingRequest.transactionId();
        String username = s.remoteUfrag + ":" + s.localUfrag;
        long prflxPriority = Candidate.priority(Candidate.Type.PRFLX, p.remote.address().getAddress(), 0);
        byte[] check = ctx.wire.check(tid, username, s.remotePassword, prflxPriority, s.controlling, s.tieBreaker,
                purpose == PendingRequest.Purpose.NOMINATE);
        ctx.pending.put(PendingRequest.key(tid), new PendingRequest(s, p, purpose, p.remote.address(), p.via, s.remotePassword, now));
        if (purpose == PendingRequest.Purpose.CHECK) {
            p.attempts++;
            p.lastSentNanos = now;
        }
        if (p.via != null) {
            p.via.prepare(p.remote.address(), now);
        }
        if (!ctx.sendVia(p.via, p.remote.address(), ByteBuffer.wrap(check))) {
            ctx.count("check not sent");
        }
    }

    void onCheck(InetSocketAddress from, long priority, boolean nominates, IceEngine.Base via) {
        CandidatePair p = pairs.get(new CandidatePair.Key(via, from));
        if (p == null) {
            // Peer-reflexive (RFC 8445 7.3.1.3): the peer's NAT showed us an address it did not know.
            Candidate prflx = new Candidate(Candidate.Type.PRFLX, from, Math.max(1, Math.min(priority, 0xFFFF_FFFFL)));
            if (!s.gatherer.reachableFamily(prflx)) {
                return;
            }
            addPair(prflx, via);
            p = pairs.get(new CandidatePair.Key(via, from));
            if (p == null) {
                return;
            }
        }
        if (nominates && !s.controlling) {
            p.nominatedByPeer = true;
            if (p.succeeded) {
                s.selection.select(p);
                return;
            }
        }
        if (!p.succeeded && s.remotePassword != null && System.nanoTime() - p.lastSentNanos > TimeUnit.MILLISECONDS.toNanos(50)) {
            if (roundStarted < 0 && s.selection.selected == null) {
                startRound();
            }
            send(p, PendingRequest.Purpose.CHECK, System.nanoTime()); // triggered check
        }
    }

    void onSuccess(PendingRequest sent, InetSocketAddress seenAs) {
        CandidatePair p = sent.pair();
        long rtt = System.nanoTime() - sent.sentNanos();
        if (sent.purpose() == PendingRequest.Purpose.CONSENT) {
            s.consent.onAnswer(p, rtt);
            return;
        }
        if (pairs.get(p.key()) != p) {
            return; // a pair of an earlier round
        }
        if (!p.succeeded) {
            p.succeeded = true;
            p.succeededNanos = System.nanoTime();
            p.rttNanos = rtt;
            p.seenAs = seenAs;
            if (firstSuccessNanos < 0) {
                firstSuccessNanos = System.nanoTime();
            }
        }
        if (sent.purpose() == PendingRequest.Purpose.NOMINATE || (!s.controlling && p.nominatedByPeer)) {
            s.selection.select(p);
        }
    }

    /** RFC 1918, RFC 6598 (carrier-grade NAT) and RFC 4193 (unique local) addresses. */
    static boolean isPrivate(InetAddress a) {
        byte[] b = a.getAddress();
        return a.isSiteLocalAddress() || (b.length == 4 && (b[0] & 0xff) == 100 && (b[1] & 0xc0) == 64)
                || (b.length == 16 && (b[0] & 0xfe) == 0xfc);
    }
}
