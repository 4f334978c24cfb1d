package io.cloudbridge.ice.internal;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;

/**
 * Birthday-paradox probing toward one peer, where plain checks failed because one side's NAT maps
 * per destination (the sockets themselves are {@link BirthdayProbe}'s). Stages, in order:
 * <ol>
 * <li>deciding: after a failed round, the STUN servers' answers on both sides tell which side is
 * hard (many sockets) and which easy (many probes); both hard, or neither known, and nothing is
 * tried;
 * <li>the window: the hard side sends from each of its sockets every second, the easy side sweeps
 * random ports of the peer's address twice;
 * <li>an answer: the pair it found joins the checklist as one that succeeded, and is nominated as
 * any;
 * <li>the end: selection keeps the winning socket and closes the rest; a window that found nothing
 * closes them all.
 * </ol>
 * Runs on the engine's thread.
 */
final class BirthdayProbing {
    private static final Logger LOG = IceContext.LOG;
    static final int BIRTHDAY_SOCKETS = 256;
    static final int BIRTHDAY_PROBES = 1024;
    /**
     * How long an attempt lasts. The two sides start when their own rounds fail, which may be a
     * few seconds apart (one learns the other's mapping only from a later offer): the hard side
     * keeps its sockets and sends from them every second for 8 s, the easy side sweeps its 1,024
     * ports twice, at its start and 3 s later, so that one sweep falls inside the other's window.
     */
    static final long BIRTHDAY_WINDOW_NANOS = TimeUnit.SECONDS.toNanos(8);
    static final long BIRTHDAY_SECOND_SWEEP_NANOS = TimeUnit.SECONDS.toNanos(3);
    /** At most one attempt a minute per peer: each costs 256 sockets on one side and 1,024 probes on the other. */
    static final long BIRTHDAY_INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(60);

    private final IceContext ctx;
    private final PeerSession s;
    /** The peer's server-reflexive candidates, from its last offer. */
    List<InetSocketAddress> remoteSrflx = List.of();
    /** Birthday probing, hard side: our sockets (until the window ends, or for the path found on one). */
    private BirthdayProbe birthday;
    private long birthdayUntilNanos = -1;
    private long lastBirthdayNanos = -1;
    /** Attempts without a path since the last path: at most three. */
    int birthdayAttempts;
    private int birthdayAnswers;
    private long nextBirthdaySendNanos;
    /** Birthday probing, easy side: the peer's public address and the ports still to probe. */
    private InetAddress probeTarget;
    private final java.util.ArrayDeque<Integer> probePorts = new java.util.ArrayDeque<>();
    private long secondSweepAtNanos = -1;

    BirthdayProbing(PeerSession s) {
        this.ctx = s.ctx;
        this.s = s;
    }

    /**
     * Where plain checks failed, birthday probing if the NATs allow it: this node's NAT maps
     * per destination (its STUN servers saw different ports) and the peer's does not show it
     * (the hard side: many sockets), or the other way round (the easy side: many probes). Both
     * hard, or neither known, and nothing is tried.
     */
    void maybeBirthday(long now) {
        if (!ctx.birthdayProbing || (birthdayUntilNanos >= 0 && now < birthdayUntilNanos) || s.remotePassword == null
                || (lastBirthdayNanos >= 0 && now - lastBirthdayNanos < BIRTHDAY_INTERVAL_NANOS) || birthdayAttempts >= 3) {
            return; // three fruitless attempts: the odds were not with us, and the peer's NAT is left alone
        }
        if (s.checklist.pairs.values().stream().anyMatch(p -> p.succeeded)) {
            // A pair answered: the NATs let direct packets through, only the nomination was
            // missed, and the retry finds it. Probing here (an endpoint-independent filter
            // answers every one of the 256 sockets) would only crowd out the pairs that work.
            return;
        }
        Boolean selfHard = hardMapping(s.gatherer.reflexive.values());
        Boolean peerHard = hardMapping(remoteSrflx);
        boolean hardSide = Boolean.TRUE.equals(selfHard) && !Boolean.TRUE.equals(peerHard) && !remoteSrflx.isEmpty();
        boolean easySide = Boolean.TRUE.equals(peerHard) && !Boolean.TRUE.equals(selfHard);
        if (!hardSide && !easySide) {
            return;
        }
        if (hardSide) {
            if (ctx.sessions.values().stream().anyMatch(o -> o.probing.birthday != null && !o.probing.birthday.found())) {
                return; // another peer's attempt holds its sockets; this one tries at its next failure
            }
            boolean v4 = remoteSrflx.get(0).getAddress() instanceof java.net.Inet4Address;
            try {
                birthday = new BirthdayProbe(BIRTHDAY_SOCKETS, v4, (on, from, datagram) -> ctx.baseInput.receive(on, from, datagram));
            } catch (java.io.IOException e) {
                LOG.info("birthday probing toward {} not possible: {}", s.peer, e.toString());
                return;
            }
            nextBirthdaySendNanos = now;
            s.reason = s.reason + "; birthday probing from " + BIRTHDAY_SOCKETS + " sockets";
            LOG.info("birthday probing toward {}: {} sockets send to {}", s.peer, BIRTHDAY_SOCKETS, remoteSrflx);
        } else {
            probeTarget = remoteSrflx.get(0).getAddress();
            probePorts.clear();
            probePorts.addAll(randomPorts());
            secondSweepAtNanos = now + BIRTHDAY_SECOND_SWEEP_NANOS;
            s.reason = s.reason + "; birthday probing " + BIRTHDAY_PROBES + " ports of " + probeTarget.getHostAddress();
            LOG.info("birthday probing toward {}: {} random ports of {}", s.peer, BIRTHDAY_PROBES, probeTarget.getHostAddress());
        }
        lastBirthdayNanos = now;
        birthdayAnswers = 0;
        birthdayAttempts++;
        birthdayUntilNanos = now + BIRTHDAY_WINDOW_NANOS;
        // No restart (new credentials) while probing: the probes carry these.
        s.retryAtNanos = Math.max(s.retryAtNanos, birthdayUntilNanos);
    }

    /** 1,024 distinct random ports above 1023, where NATs map. */
    private java.util.Set<Integer> randomPorts() {
        java.util.Set<Integer> chosen = new java.util.LinkedHashSet<>();
        while (chosen.size() < BIRTHDAY_PROBES) {
            chosen.add(1024 + IceContext.RANDOM.nextInt(65_536 - 1024));
        }
        return chosen;
    }

    /** Birthday probing's sends, each tick of its window. */
    void probe(long now) {
        if (birthdayUntilNanos < 0) {
            return;
        }
        if (now >= birthdayUntilNanos) {
            boolean checking = birthday != null && s.checklist.pairs.values().stream().anyMatch(p -> birthday.owns(p.via) && p.succeeded);
            if (checking && now < birthdayUntilNanos + TimeUnit.SECONDS.toNanos(2)) {
                return; // a probe landed at the last moment: its pair gets two seconds to be nominated
            }
            birthdayUntilNanos = -1;
            probePorts.clear();
            if (birthday != null && !birthday.found()) {
                dropBirthday();
            }
            return;
        }
        if (probeTarget != null && secondSweepAtNanos >= 0 && now >= secondSweepAtNanos) {
            secondSweepAtNanos = -1;
            probePorts.addAll(randomPorts());
        }
        if (birthday != null && !birthday.found() && now >= nextBirthdaySendNanos) {
            // From every socket to the peer: each makes (and keeps) a mapping of our NAT toward it.
            nextBirthdaySendNanos = now + TimeUnit.SECONDS.toNanos(1);
            for (BirthdayProbe.ProbeSocket socket : birthday.sockets()) {
                for (InetSocketAddress to : remoteSrflx) {
                    sendProbe(socket, to, now);
                }
            }
        }
        // The easy side: about 1,024 probes in a sweep's first second.
        for (int i = 0; i < 24 && !probePorts.isEmpty(); i++) {
            sendProbe(null, new InetSocketAddress(probeTarget, probePorts.poll()), now);
        }
    }

    private void sendProbe(IceEngine.Base via, InetSocketAddress to, long now) {
        byte[] tid = PendingRequest.transactionId();
        long prflxPriority = Candidate.priority(Candidate.Type.PRFLX, to.getAddress(), 0);
        byte[] check = ctx.wire.check(tid, s.remoteUfrag + ":" + s.localUfrag, s.remotePassword, prflxPriority, s.controlling,
                s.tieBreaker, false);
        ctx.pending.put(PendingRequest.key(tid), new PendingRequest(s, null, PendingRequest.Purpose.PROBE, to, via, s.remotePassword, now));
        ctx.sendVia(via, to, ByteBuffer.wrap(check));
    }

    /** A probe was answered: the pair it found joins the checks as one that succeeded, and is nominated as any. */
    void onProbeAnswered(PendingRequest sent, InetSocketAddress from, InetSocketAddress seenAs) {
        if (ctx.sessions.get(s.peer) != s) {
            return;
        }
        if (++birthdayAnswers > 4) {
            return; // a few found pairs are plenty: more would only crowd the pair list
        }
        if (birthdayAnswers == 1) {
            LOG.info("birthday probe to {} answered from {}", s.peer, from);
        }
        Checklist checklist = s.checklist;
        checklist.addPair(new Candidate(Candidate.Type.PRFLX, from, Candidate.priority(Candidate.Type.PRFLX, from.getAddress(), 0)), sent.via());
        CandidatePair p = checklist.pairs.get(new CandidatePair.Key(sent.via(), from));
        if (p == null) {
            return;
        }
        if (checklist.roundStarted < 0 && s.selection.selected == null) {
            checklist.startRound();
        }
        if (!p.succeeded) {
            p.succeeded = true;
            p.succeededNanos = System.nanoTime();
            p.rttNanos = System.nanoTime() - sent.sentNanos();
            p.seenAs = seenAs;
            if (checklist.firstSuccessNanos < 0) {
                checklist.firstSuccessNanos = System.nanoTime();
            }
        }
        if (!s.controlling && p.nominatedByPeer) {
            s.selection.select(p);
        }
    }

    /** Whether {@code via} is one of this attempt's sockets: a path on one lives and dies with the attempt's sockets. */
    boolean owns(IceEngine.Base via) {
        return birthday != null && birthday.owns(via);
    }

    /** A pair was selected: if it found its way through one of probing's sockets, that socket must outlive the attempt. */
    void onSelected(IceEngine.Base via) {
        if (birthday != null && birthday.owns(via)) {
            birthday.keepOnly((BirthdayProbe.ProbeSocket) via);
        } else if (birthday != null) {
            dropBirthday(); // a path on another base: probing's sockets are not needed (any more)
        }
    }

    /** Closes birthday probing's sockets (the window ended without a path, or the path on one of them ended). */
    void dropBirthday() {
        if (birthday != null) {
            birthday.close();
            birthday = null;
        }
    }

    /**
     * What server-reflexive addresses of one socket say of its NAT's mapping: {@code true} when one
     * public address shows several ports (a mapping per destination), {@code false} when two or
     * more servers saw the same port, {@code null} when one alone cannot tell.
     */
    static Boolean hardMapping(Collection<InetSocketAddress> reflexive) {
        Map<InetAddress, Set<Integer>> ports = new HashMap<>();
        Map<InetAddress, Integer> seen = new HashMap<>();
        for (InetSocketAddress r : reflexive) {
            ports.computeIfAbsent(r.getAddress(), a -> new java.util.HashSet<>()).add(r.getPort());
            seen.merge(r.getAddress(), 1, Integer::sum);
        }
        if (ports.values().stream().anyMatch(p -> p.size() > 1)) {
            return true;
        }
        return seen.values().stream().anyMatch(n -> n > 1) ? Boolean.FALSE : null;
    }
}
