package io.cloudbridge.ice.internal;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;

/**
 * This node's own candidates, all on the overlay's one socket. Stages, in order:
 * <ol>
 * <li>host: the node's addresses, read at start and four times a second after;
 * <li>server-reflexive: what the STUN servers see of the socket, asked three times 200 ms apart
 * (a lost datagram must not cost the candidate), again when the server list changes, with backoff
 * while none answers, and at every refresh to keep the NAT's mapping;
 * <li>relayed: one allocation per configured TURN server;
 * <li>trickle: a candidate more goes to every peer with the same credentials;
 * <li>handover: a lost address withdraws the direct paths and restarts every peer at once.
 * </ol>
 * Runs on the engine's thread; {@link #turnByServer}, {@link #udpBlocked} and {@link #gatherState}
 * are also read from others.
 */
final class Gatherer {
    private static final Logger LOG = IceContext.LOG;

    private final IceContext ctx;
    private final Supplier<List<InetAddress>> hostAddresses;
    private final Supplier<List<InetSocketAddress>> stunServers;
    private final Supplier<List<IceEngine.TurnServer>> turnServers;
    private List<InetAddress> hosts = List.of();
    final Map<InetSocketAddress, InetSocketAddress> reflexive = new LinkedHashMap<>(); // STUN server -> what it saw
    private long lastStunNanos;
    private long firstStunNanos = -1;
    private long stunAnsweredNanos = -1;
    /** No STUN server has answered this node for a while although it asked: its UDP does not get out. */
    volatile boolean udpBlocked;
    /** The STUN servers last asked: the home relay's responder becomes known only at registration. */
    private List<InetSocketAddress> askedServers = List.of();
    private long stunRetryNanos = TimeUnit.SECONDS.toNanos(1);
    volatile String gatherState = "not gathered yet";
    /** The allocations, one per configured TURN server; the map is what the receive thread looks datagrams up in. */
    final List<TurnClient> turns = new ArrayList<>();
    final Map<InetSocketAddress, TurnClient> turnByServer = new ConcurrentHashMap<>();
    private List<IceEngine.TurnServer> turnsConfigured = List.of();
    /** Told when the node's own addresses change (old, new): other parts reconnect what rode on the old ones. */
    volatile java.util.function.BiConsumer<List<InetAddress>, List<InetAddress>> addressesChanged = (before, after) -> { };

    Gatherer(IceContext ctx, Supplier<List<InetAddress>> hostAddresses, Supplier<List<InetSocketAddress>> stunServers,
            Supplier<List<IceEngine.TurnServer>> turnServers) {
        this.ctx = ctx;
        this.hostAddresses = hostAddresses;
        this.stunServers = stunServers;
        this.turnServers = turnServers;
    }

    /** The first gathering, at the engine's start. */
    void gatherFirst() {
        hosts = hostAddresses.get();
        gatherReflexive();
        watchTurnServers();
    }

    List<Candidate> localCandidates() {
        List<Candidate> out = new ArrayList<>();
        int order = 0;
        int port = ctx.socket.localPort();
        for (InetAddress a : port == 0 ? List.<InetAddress>of() : hosts) { // no socket for a moment: no host candidate
            out.add(new Candidate(Candidate.Type.HOST, new InetSocketAddress(a, port),
                    Candidate.priority(Candidate.Type.HOST, a, order++)));
        }
        for (InetSocketAddress seen : reflexive.values()) {
            Candidate c = new Candidate(Candidate.Type.SRFLX, seen, Candidate.priority(Candidate.Type.SRFLX, seen.getAddress(), order++));
            if (out.stream().noneMatch(o -> o.address().equals(seen))) {
                out.add(c);
            }
        }
        List<Candidate> relays = new ArrayList<>();
        for (TurnClient t : turns) {
            InetSocketAddress relayed = t.relayedAddress();
            if (relayed != null) {
                relays.add(new Candidate(Candidate.Type.RELAY, relayed, Candidate.priority(Candidate.Type.RELAY, relayed.getAddress(), order++)));
            }
        }
        // An offer holds at most 32 (a peer refuses more): host addresses (first in the list) give way first.
        int hostCount = hosts.size();
        while (out.size() + relays.size() > IceOffer.MAX_CANDIDATES && hostCount > 0) {
            out.remove(--hostCount);
        }
        out.addAll(relays.subList(0, Math.max(0, Math.min(relays.size(), IceOffer.MAX_CANDIDATES - out.size()))));
        return out.size() > IceOffer.MAX_CANDIDATES ? new ArrayList<>(out.subList(0, IceOffer.MAX_CANDIDATES)) : out;
    }

    private void gatherReflexive() {
        lastStunNanos = System.nanoTime();
        List<InetSocketAddress> servers = stunServers.get();
        askedServers = servers;
        if (firstStunNanos < 0 && !servers.isEmpty()) {
            firstStunNanos = lastStunNanos;
        }
        if (servers.isEmpty()) {
            gatherState = "no STUN server (not registered, and ice.stunServers is empty)";
        }
        for (InetSocketAddress server : servers) {
            if (server.isUnresolved()) {
                continue;
            }
            for (int attempt = 0; attempt < 3; attempt++) {
                // Three requests 200 ms apart: one lost datagram must not cost a server-reflexive candidate.
                ctx.loop.schedule(() -> {
                    byte[] tid = PendingRequest.transactionId();
                    ctx.pending.put(PendingRequest.key(tid), new PendingRequest(null, null, PendingRequest.Purpose.STUN, server, null, null,
                            System.nanoTime()));
                    ctx.socket.send(server, ByteBuffer.wrap(ctx.wire.bindingRequest(tid)));
                }, attempt * 200L, TimeUnit.MILLISECONDS);
            }
        }
    }

    void onReflexive(InetSocketAddress server, InetSocketAddress seen) {
        stunAnsweredNanos = System.nanoTime();
        InetSocketAddress before = reflexive.put(server, seen);
        gatherState = "public endpoint " + seen.getAddress().getHostAddress() + ":" + seen.getPort() + " (STUN " + server + ")";
        if (!seen.equals(before)) {
            LOG.info("server-reflexive candidate {}:{} (seen by STUN server {})", seen.getAddress().getHostAddress(), seen.getPort(), server);
            for (PeerSession s : ctx.sessions.values()) {
                if (s.remoteUfrag != null) {
                    s.sendOffer(false); // trickle: the same credentials, one candidate more
                }
            }
        }
    }

    /** The STUN servers changed: the node registered (its relay's responder is the default), or the configuration changed. */
    void watchServers() {
        try {
            watchTurnServers();
            List<InetSocketAddress> now = stunServers.get();
            if (!now.equals(askedServers)) {
                reflexive.keySet().retainAll(now);
                stunRetryNanos = TimeUnit.SECONDS.toNanos(1);
                gatherReflexive();
            } else if (!now.isEmpty() && reflexive.isEmpty() && System.nanoTime() - lastStunNanos > stunRetryNanos) {
                // No answer yet (lost, or sent while the overlay's socket was being re-created at
                // registration): ask again after 1 s, 2 s, 4 s, ... rather than at the 20 s refresh.
                stunRetryNanos = Math.min(stunRetryNanos * 2, ctx.timers.stunRefresh().toNanos());
                gatherReflexive();
            }
        } catch (RuntimeException e) {
            LOG.warn("looking up the STUN servers failed: {}", e.toString());
        }
    }

    /** The configured TURN servers changed (or were first read): one allocation per server. */
    private void watchTurnServers() {
        List<IceEngine.TurnServer> now = turnServers.get();
        if (now.equals(turnsConfigured)) {
            return;
        }
        // Per server: one that stays keeps its allocation (and the paths through it).
        List<IceEngine.TurnServer> before = turnsConfigured;
        turnsConfigured = now;
        for (java.util.Iterator<TurnClient> it = turns.iterator(); it.hasNext(); ) {
            TurnClient t = it.next();
            IceEngine.TurnServer was = before.stream().filter(b -> b.address().equals(t.server)).findFirst().orElse(null);
            if (was != null && now.contains(was)) {
                continue;
            }
            t.release();
            it.remove();
            turnByServer.remove(t.server);
            for (PeerSession s : ctx.sessions.values()) {
                if (s.selection.selected != null && s.selection.selected.via == t) {
                    s.selection.withdraw("its TURN server left the configuration");
                }
                s.checklist.pairs.values().removeIf(p -> p.via == t);
            }
        }
        for (IceEngine.TurnServer server : now) {
            if (turnByServer.containsKey(server.address())) {
                continue;
            }
            TurnClient t = new TurnClient(server.address(), server.username(), server.password(), ctx.wire, ctx.socket,
                    ctx.timers.turnRefresh(), this::onAllocated);
            turns.add(t);
            turnByServer.put(server.address(), t);
            t.start();
        }
    }

    /** A relayed candidate more: every peer gets pairs through it, and hears of it (trickle). */
    private void onAllocated() {
        for (PeerSession s : ctx.sessions.values()) {
            if (s.remoteUfrag == null) {
                continue;
            }
            s.checklist.pairs.values().stream().filter(p -> p.via == null).map(p -> p.remote).toList().forEach(s.checklist::addPair);
            s.sendOffer(false);
            if (s.selection.selected == null && s.checklist.roundStarted < 0) {
                s.checklist.startRound();
            }
        }
    }

    /** Handover: the node's own addresses changed (a new network, a new default route). */
    void watchAddresses() {
        try {
            long nanos = System.nanoTime();
            // Three seconds of asking without an answer: longer than any retransmission, shorter than a round of checks.
            long since = stunAnsweredNanos >= 0 ? stunAnsweredNanos : firstStunNanos;
            udpBlocked = firstStunNanos >= 0 && !stunServers.get().isEmpty() && nanos - since > TimeUnit.SECONDS.toNanos(
                    stunAnsweredNanos >= 0 ? ctx.timers.stunRefresh().toSeconds() * 3 : 3);
            List<InetAddress> now = hostAddresses.get();
            if (!now.equals(hosts)) {
                LOG.info("this node's addresses changed ({} -> {}): gathering again{}", hosts, now,
                        now.containsAll(hosts) ? "" : " and restarting hole punching with " + ctx.sessions.size() + " peers");
                List<InetAddress> before = hosts;
                hosts = now;
                addressesChanged.accept(before, now);
                reflexive.clear();
                gatherReflexive();
                if (!now.containsAll(before)) {
                    turns.forEach(TurnClient::start); // the allocations belonged to the old 5-tuple
                }
                // An address gone takes the direct paths that left from it, most likely: the relay
                // carries the peers until checks from the new addresses confirm a path (a few
                // hundred ms) instead of until consent runs out (1.5 s). An address added alone
                // leaves working paths be.
                boolean lost = !now.containsAll(before);
                for (PeerSession s : ctx.sessions.values()) {
                    if (!lost) {
                        // Only new addresses (a bridge, a temporary IPv6 address): offer them, same credentials.
                        if (s.remoteUfrag != null) {
                            s.sendOffer(false);
                        }
                        continue;
                    }
                    if (s.selection.path != null) {
                        s.selection.withdraw("this node's addresses changed");
                    }
                    s.restart("this node's addresses changed");
                }
            } else if (System.nanoTime() - lastStunNanos > ctx.timers.stunRefresh().toNanos()) {
                gatherReflexive(); // keeps the NAT's mapping of the socket, and notices a new one
            }
        } catch (RuntimeException e) {
            LOG.warn("watching this node's addresses failed: {}", e.toString());
        }
    }

    /**
     * Whether a peer's candidate is one to check: an address of a family this node has, and not
     * one a peer could use to aim our checks at this host or its LAN's special addresses
     * (wildcard, multicast, link-local; loopback only when this node's own socket is on it).
     */
    boolean reachableFamily(Candidate c) {
        InetAddress a = c.address().getAddress();
        if (a.isAnyLocalAddress() || a.isMulticastAddress() || a.isLinkLocalAddress()
                || (a.isLoopbackAddress() && hosts.stream().noneMatch(InetAddress::isLoopbackAddress))
                || (a instanceof java.net.Inet4Address && a.getAddress()[0] == (byte) 255)) {
            ctx.count("candidate refused");
            return false;
        }
        boolean v4 = c.address().getAddress() instanceof java.net.Inet4Address;
        return hosts.stream().anyMatch(h -> (h instanceof java.net.Inet4Address) == v4)
                || reflexive.values().stream().anyMatch(r -> (r.getAddress() instanceof java.net.Inet4Address) == v4);
    }

    /** Which of our candidates the peer saw a pair's checks come from, in cb:peers' words. */
    String localType(InetSocketAddress seenAs) {
        if (seenAs == null) {
            return "prflx";
        }
        for (InetAddress h : hosts) {
            if (h.equals(seenAs.getAddress()) && seenAs.getPort() == ctx.socket.localPort()) {
                return "host";
            }
        }
        return reflexive.containsValue(seenAs) ? "srflx" : "prflx";
    }
}
