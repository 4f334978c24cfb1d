package io.cloudbridge.ice.internal;

import io.cloudbridge.api.mesh.PathInfo;
import io.cloudbridge.api.mesh.PathKind;
import io.cloudbridge.api.mesh.PeerPath;
import io.cloudbridge.api.net.NodeKey;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Hole punching for every peer, on the overlay's one socket (RFC 8445, full ICE for one
 * component, aggressive enough to find a path within a second). Per peer: credentials and
 * candidates go out over signalling, connectivity checks run on every candidate pair, the
 * controlling side (the node with the larger key) nominates the best pair that answered, and
 * consent checks (RFC 7675, on a much shorter timer) keep confirming it. A path that stops
 * answering is withdrawn, so the peer falls back to the relay, and hole punching starts over after
 * a backoff. A change of the node's own addresses regathers and restarts every peer at once.
 *
 * <p>All state changes run on one thread; the data path reads one volatile reference per packet.
 */
final class IceEngine {
    private static final Logger LOG = LoggerFactory.getLogger(IceEngine.class);
    private static final SecureRandom RANDOM = new SecureRandom();

    /** The overlay's socket as the engine sees it. */
    interface Socket {
        /** Sends one datagram from the shared 5-tuple; {@code false} when it could not go. */
        boolean send(InetSocketAddress to, ByteBuffer datagram);

        int localPort();
    }

    /**
     * A local base other than the overlay's socket (RFC 8445 5.1.1: the address a candidate's
     * packets leave from): an allocation on a TURN server, one of birthday probing's sockets, or a
     * CONNECT-UDP tunnel through a MASQUE proxy.
     */
    interface Base {
        /** Sends one datagram from this base; any thread; {@code false} when it could not go. */
        boolean send(InetSocketAddress to, ByteBuffer datagram);

        /** Called before checks to {@code to} go out (a TURN allocation binds a channel). */
        default void prepare(InetSocketAddress to, long now) {
        }

        /** How what leaves from here travels: DIRECT from a socket of this node, else through a TURN server or a MASQUE proxy. */
        PathKind kind();

        /** The local candidate in words, for cb:peers. */
        String describe();
    }

    /** The signalling stream as the engine sees it. */
    interface Signals {
        boolean send(NodeKey to, byte[] offer);
    }

    /** A TURN server from the configuration, with the long-term credentials it takes. */
    record TurnServer(InetSocketAddress address, String username, String password) {
        @Override
        public String toString() {
            return address.toString(); // never the password
        }
    }

    /** The protocol's timers; tests and labs shorten them. */
    record Timers(Duration tick, Duration checkTimeout, Duration consentInterval, Duration consentTimeout, Duration retryMin,
            Duration retryMax, Duration offerRetry, Duration stunRefresh, Duration turnRefresh) {
        static Timers defaults() {
            return new Timers(Duration.ofMillis(20), Duration.ofSeconds(5), Duration.ofMillis(250), Duration.ofMillis(1500),
                    Duration.ofSeconds(1), Duration.ofSeconds(60), Duration.ofSeconds(1), Duration.ofSeconds(20), Duration.ofSeconds(25));
        }
    }

    private final NodeKey self;
    private final Socket socket;
    private final Signals signals;
    private final Timers timers;
    private final Supplier<List<InetAddress>> hostAddresses;
    private final Supplier<List<InetSocketAddress>> stunServers;
    private final Supplier<List<TurnServer>> turnServers;
    private final ScheduledExecutorService loop;
    private final IceWire wire = new IceWire();
    private final Map<NodeKey, Session> sessions = new HashMap<>();
    private final Map<String, Session> byLocalUfrag = new HashMap<>();
    private final Map<String, Pending> pending = new HashMap<>();
    /** What commands and the path manager read, from any thread. */
    private final Map<NodeKey, Session> published = new ConcurrentHashMap<>();
    private final Map<String, LongAdder> drops = new ConcurrentHashMap<>();
    private List<InetAddress> hosts = List.of();
    private final Map<InetSocketAddress, InetSocketAddress> reflexive = new LinkedHashMap<>(); // STUN server -> what it saw
    private long lastStunNanos;
    private long firstStunNanos = -1;
    private long stunAnsweredNanos = -1;
    /** No STUN server has answered this node for a while although it asked: its UDP does not get out. */
    private volatile boolean udpBlocked;
    /** The STUN servers last asked: the home relay's responder becomes known only at registration. */
    private List<InetSocketAddress> askedServers = List.of();
    private long stunRetryNanos = TimeUnit.SECONDS.toNanos(1);
    private volatile String gatherState = "not gathered yet";
    /** The allocations, one per configured TURN server; the map is what the receive thread looks datagrams up in. */
    private final List<TurnClient> turns = new ArrayList<>();
    private final Map<InetSocketAddress, TurnClient> turnByServer = new ConcurrentHashMap<>();
    private List<TurnServer> turnsConfigured = List.of();
    /** Birthday-paradox probing where one side's NAT maps per destination and the other's does not (see {@link BirthdayProbe}). */
    private volatile boolean birthdayProbing;
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

    /** The MASQUE path, while the operator turned it on: each peer's public candidates get a tunnel through the proxy. */
    private io.cloudbridge.api.tunnel.MasquePath masque;
    /** Tunnels per peer at most: its public candidates, which are one or two. */
    static final int MASQUE_TUNNELS_PER_PEER = 4;

    /** Where WireGuard's packets that came to another base than the overlay's socket go (the overlay's inbound). */
    private volatile java.util.function.BiConsumer<ByteBuffer, PathKind> otherBasePackets = (packet, kind) -> { };
    /** Work handed to the engine's thread and not done yet: bounded, so a flood cannot grow the heap. */
    private final java.util.concurrent.atomic.AtomicInteger queued = new java.util.concurrent.atomic.AtomicInteger();
    private static final int MAX_QUEUED = 4096;
    /** Told when the node's own addresses change (old, new): other parts reconnect what rode on the old ones. */
    private volatile java.util.function.BiConsumer<List<InetAddress>, List<InetAddress>> addressesChanged = (before, after) -> { };

    IceEngine(NodeKey self, Socket socket, Signals signals, Timers timers, Supplier<List<InetAddress>> hostAddresses,
            Supplier<List<InetSocketAddress>> stunServers, Supplier<List<TurnServer>> turnServers, ScheduledExecutorService loop) {
        this.self = self;
        this.socket = socket;
        this.signals = signals;
        this.timers = timers;
        this.hostAddresses = hostAddresses;
        this.stunServers = stunServers;
        this.turnServers = turnServers;
        this.loop = loop;
    }

    /** Whether to try birthday-paradox probing where plain hole punching failed and the NATs' mappings allow it. */
    void birthdayProbing(boolean on) {
        this.birthdayProbing = on;
    }

    void onAddressesChanged(java.util.function.BiConsumer<List<InetAddress>, List<InetAddress>> listener) {
        this.addressesChanged = listener;
    }

    /**
     * Where WireGuard's packets that arrive at another base than the overlay's socket (through a
     * TURN allocation, or on a socket birthday probing found) are handed, on the receive thread.
     */
    void onOtherBasePacket(java.util.function.BiConsumer<ByteBuffer, PathKind> sink) {
        this.otherBasePackets = sink;
    }

    /**
     * The MASQUE path came or went (or was replaced, with a new configuration): every peer's
     * public candidates are paired with a tunnel through the new proxy, the old tunnels close,
     * and a path through one of them is withdrawn (the relay carries the peer until checks find
     * the next).
     */
    void useMasque(io.cloudbridge.api.tunnel.MasquePath path) {
        // Not through submit(): a flood that fills the engine's queue must not lose the switch itself.
        try {
            loop.execute(() -> useMasqueNow(path));
        } catch (java.util.concurrent.RejectedExecutionException stopped) {
            // the engine has stopped: nothing to switch
        }
    }

    private void useMasqueNow(io.cloudbridge.api.tunnel.MasquePath path) {
        if (masque == path) {
            return;
        }
        masque = path;
        for (Session s : sessions.values()) {
            if (s.selected != null && s.selected.via instanceof MasqueBase) {
                s.withdraw(path == null ? "the MASQUE path was turned off" : "the MASQUE proxy changed");
            }
            s.dropMasque();
            s.masqueBases.clear();
            s.pairs.values().removeIf(p -> p.via instanceof MasqueBase);
            if (path != null && s.remoteUfrag != null) {
                s.pairs.values().stream().filter(p -> p.via == null).map(p -> p.remote).toList().forEach(s::addPair);
                if (s.selected == null && s.roundStarted < 0) {
                    s.startRound();
                }
            }
        }
    }

    void start() {
        loop.execute(() -> {
            hosts = hostAddresses.get();
            gatherReflexive();
            watchTurnServers();
        });
        loop.scheduleWithFixedDelay(this::tick, timers.tick().toMillis(), timers.tick().toMillis(), TimeUnit.MILLISECONDS);
        // Four times a second: a handover has 2 s, and listing a few interfaces costs well under a millisecond.
        loop.scheduleWithFixedDelay(this::watchAddresses, 250, 250, TimeUnit.MILLISECONDS);
        loop.scheduleWithFixedDelay(this::watchServers, 100, 100, TimeUnit.MILLISECONDS);
    }

    void stop() {
        try {
            // The allocations are given back, so the TURN servers free their ports now rather than in 10 min.
            loop.submit(() -> {
                turns.forEach(TurnClient::release);
                sessions.values().forEach(Session::dropBirthday);
                sessions.values().forEach(Session::dropMasque);
            }).get(500, TimeUnit.MILLISECONDS);
        } catch (Exception stoppedOrSlow) {
            // best effort: the allocations expire on their own
        }
        loop.shutdownNow();
        try {
            loop.awaitTermination(2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        sessions.values().forEach(Session::dropBirthday); // if the loop was too busy to do it: it has stopped now
        sessions.values().forEach(Session::dropMasque);
        published.clear();
        wire.close();
    }

    // ---- input, from any thread ----

    /**
     * A STUN or TURN ChannelData datagram from the shared socket; decoded here, handled on the
     * engine's thread. What a TURN server relayed is unwrapped first: a check from a peer goes on
     * as if it came from that peer through the allocation, WireGuard's packets go to the overlay
     * at once.
     */
    void onDatagram(InetSocketAddress from, ByteBuffer datagram) {
        if (IceWire.isChannelData(datagram)) {
            TurnClient via = turnByServer.get(from);
            InetSocketAddress peer = via == null ? null : via.unwrapChannelData(datagram);
            if (peer == null) {
                count(via == null ? "channel data from no TURN server of ours" : "channel data on an unbound channel");
                return;
            }
            onRelayed(via, peer, datagram);
            return;
        }
        if (datagram.remaining() > IceWire.MAX_MESSAGE && !turnByServer.containsKey(from)) {
            count("TURN message from no TURN server of ours"); // a long one is a Data indication: not parsed for a stranger
            return;
        }
        IceWire.Received m = IceWire.decode(datagram);
        if (m == null) {
            count("malformed STUN");
            return;
        }
        if (m.isTurn()) {
            TurnClient via = turnByServer.get(from);
            if (via == null) {
                count("TURN message from no TURN server of ours");
            } else if (m.type() == org.ice4j.message.Message.DATA_INDICATION) {
                InetSocketAddress peer = m.peer();
                byte[] data = m.data();
                if (peer == null || data == null) {
                    count("data indication without peer or data");
                } else {
                    onRelayed(via, peer, ByteBuffer.wrap(data));
                }
            } else {
                submit("TURN", () -> via.onMessage(m, System.nanoTime()));
            }
            return;
        }
        submit("STUN", () -> handle(from, m, null));
    }

    private void onRelayed(TurnClient via, InetSocketAddress peer, ByteBuffer payload) {
        onBaseDatagram(via, peer, payload);
    }

    /**
     * A datagram that came to another base than the overlay's socket (unwrapped, for a TURN
     * allocation): a check goes on as if it came from that peer to that base, WireGuard's packets
     * go to the overlay at once. Any thread.
     */
    void onBaseDatagram(Base via, InetSocketAddress peer, ByteBuffer payload) {
        if (!IceWire.isStun(payload)) {
            otherBasePackets.accept(payload, via.kind());
            return;
        }
        IceWire.Received m = IceWire.decode(payload);
        if (m == null || m.isTurn()) {
            count("malformed STUN " + switch (via.kind()) {
                case TURN -> "through TURN";
                case MASQUE -> "through the MASQUE proxy";
                default -> "on a probing socket";
            });
            return;
        }
        submit("STUN", () -> handle(peer, m, via));
    }

    void onOffer(NodeKey from, byte[] payload) {
        IceOffer offer;
        try {
            offer = IceOffer.decode(payload);
        } catch (IllegalArgumentException e) {
            count("bad offer");
            LOG.debug("an offer from {} refused: {}", from, e.getMessage());
            return;
        }
        submit("offer", () -> handleOffer(from, offer));
    }

    /** Runs work on the engine's thread, or drops it (counted) when too much is waiting: a flood must not grow the heap. */
    private void submit(String what, Runnable work) {
        if (queued.incrementAndGet() > MAX_QUEUED) {
            queued.decrementAndGet();
            count(what + " dropped: engine busy");
            return;
        }
        try {
            loop.execute(() -> {
                queued.decrementAndGet();
                try {
                    work.run();
                } catch (RuntimeException e) {
                    LOG.warn("hole punching failed on {}: {}", what, e.toString(), e);
                }
            });
        } catch (java.util.concurrent.RejectedExecutionException stopped) {
            queued.decrementAndGet();
        }
    }

    /**
     * Signalling is back: offers not answered yet went into a stream that broke (a node that moved
     * sends its new offer just as its old connection to the relay is shut), so they go again now,
     * not a whole offer retry later: a handover has 2 s.
     */
    void resendUnansweredOffers() {
        submit("resend offers", () -> sessions.values().forEach(s -> {
            if (!s.offerAnswered) {
                s.sendOffer(true);
            }
        }));
    }

    /** The tenant's peers now: sessions start for new ones and end for those gone. */
    void setPeers(Collection<NodeKey> peers) {
        Set<NodeKey> wanted = Set.copyOf(peers);
        loop.execute(() -> {
            for (NodeKey k : List.copyOf(sessions.keySet())) {
                if (!wanted.contains(k)) {
                    Session s = sessions.remove(k);
                    s.dropBirthday();
                    s.dropMasque();
                    byLocalUfrag.remove(s.localUfrag);
                    if (s.previousUfrag != null) {
                        byLocalUfrag.remove(s.previousUfrag);
                    }
                    published.remove(k);
                }
            }
            for (NodeKey k : wanted) {
                if (!k.equals(self)) {
                    session(k);
                }
            }
        });
    }

    // ---- output, from any thread ----

    Optional<PeerPath> directPath(NodeKey peer) {
        Session s = published.get(peer);
        return s == null ? Optional.empty() : Optional.ofNullable(s.path);
    }

    Optional<PathInfo> info(NodeKey peer) {
        Session s = published.get(peer);
        return s == null ? Optional.empty() : Optional.of(s.info());
    }

    Map<String, Long> drops() {
        Map<String, Long> out = new java.util.TreeMap<>();
        drops.forEach((k, v) -> out.put(k, v.sum()));
        return out;
    }

    String gatherState() {
        return gatherState;
    }

    /** The MASQUE tunnels, one per peer's public candidate, with their states. */
    String masqueStates() {
        try {
            return loop.submit(() -> {
                List<String> out = new ArrayList<>();
                for (Session s : sessions.values()) {
                    s.masqueBases.values().forEach(b -> out.add(address(b.target) + " " + b.state()));
                }
                return out.isEmpty() ? "no tunnel yet" : String.join(", ", out);
            }).get(2, TimeUnit.SECONDS);
        } catch (Exception e) {
            return "(busy)";
        }
    }

    /** One line per TURN server: its allocation's state. */
    List<String> turnStates() {
        return turnByServer.values().stream().map(t -> "TURN " + address(t.server) + ": " + t.state()).sorted().toList();
    }

    private void count(String why) {
        drops.computeIfAbsent(why, k -> new LongAdder()).increment();
    }

    // ---- candidates ----

    private List<Candidate> localCandidates() {
        List<Candidate> out = new ArrayList<>();
        int order = 0;
        for (InetAddress a : hosts) {
            out.add(new Candidate(Candidate.Type.HOST, new InetSocketAddress(a, socket.localPort()),
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
                loop.schedule(() -> {
                    byte[] tid = transactionId();
                    pending.put(key(tid), new Pending(null, null, Purpose.STUN, server, null, null, System.nanoTime()));
                    socket.send(server, ByteBuffer.wrap(wire.bindingRequest(tid)));
                }, attempt * 200L, TimeUnit.MILLISECONDS);
            }
        }
    }

    private void onReflexive(InetSocketAddress server, InetSocketAddress seen) {
        stunAnsweredNanos = System.nanoTime();
        InetSocketAddress before = reflexive.put(server, seen);
        gatherState = "public endpoint " + seen.getAddress().getHostAddress() + ":" + seen.getPort() + " (STUN " + server + ")";
        if (!seen.equals(before)) {
            LOG.info("server-reflexive candidate {}:{} (seen by STUN server {})", seen.getAddress().getHostAddress(), seen.getPort(), server);
            for (Session s : sessions.values()) {
                if (s.remoteUfrag != null) {
                    s.sendOffer(false); // trickle: the same credentials, one candidate more
                }
            }
        }
    }

    /** The STUN servers changed: the node registered (its relay's responder is the default), or the configuration changed. */
    private void watchServers() {
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
                stunRetryNanos = Math.min(stunRetryNanos * 2, timers.stunRefresh().toNanos());
                gatherReflexive();
            }
        } catch (RuntimeException e) {
            LOG.warn("looking up the STUN servers failed: {}", e.toString());
        }
    }

    /** The configured TURN servers changed (or were first read): one allocation per server. */
    private void watchTurnServers() {
        List<TurnServer> now = turnServers.get();
        if (now.equals(turnsConfigured)) {
            return;
        }
        // Per server: one that stays keeps its allocation (and the paths through it).
        List<TurnServer> before = turnsConfigured;
        turnsConfigured = now;
        for (java.util.Iterator<TurnClient> it = turns.iterator(); it.hasNext(); ) {
            TurnClient t = it.next();
            TurnServer was = before.stream().filter(b -> b.address().equals(t.server)).findFirst().orElse(null);
            if (was != null && now.contains(was)) {
                continue;
            }
            t.release();
            it.remove();
            turnByServer.remove(t.server);
            for (Session s : sessions.values()) {
                if (s.selected != null && s.selected.via == t) {
                    s.withdraw("its TURN server left the configuration");
                }
                s.pairs.values().removeIf(p -> p.via == t);
            }
        }
        for (TurnServer server : now) {
            if (turnByServer.containsKey(server.address())) {
                continue;
            }
            TurnClient t = new TurnClient(server.address(), server.username(), server.password(), wire, socket, timers.turnRefresh(),
                    this::onAllocated);
            turns.add(t);
            turnByServer.put(server.address(), t);
            t.start();
        }
    }

    /** A relayed candidate more: every peer gets pairs through it, and hears of it (trickle). */
    private void onAllocated() {
        for (Session s : sessions.values()) {
            if (s.remoteUfrag == null) {
                continue;
            }
            s.pairs.values().stream().filter(p -> p.via == null).map(p -> p.remote).toList().forEach(s::addPair);
            s.sendOffer(false);
            if (s.selected == null && s.roundStarted < 0) {
                s.startRound();
            }
        }
    }

    /** Handover: the node's own addresses changed (a new network, a new default route). */
    private void watchAddresses() {
        try {
            long nanos = System.nanoTime();
            // Three seconds of asking without an answer: longer than any retransmission, shorter than a round of checks.
            long since = stunAnsweredNanos >= 0 ? stunAnsweredNanos : firstStunNanos;
            udpBlocked = firstStunNanos >= 0 && !stunServers.get().isEmpty() && nanos - since > TimeUnit.SECONDS.toNanos(
                    stunAnsweredNanos >= 0 ? timers.stunRefresh().toSeconds() * 3 : 3);
            List<InetAddress> now = hostAddresses.get();
            if (!now.equals(hosts)) {
                LOG.info("this node's addresses changed ({} -> {}): gathering again{}", hosts, now,
                        now.containsAll(hosts) ? "" : " and restarting hole punching with " + sessions.size() + " peers");
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
                for (Session s : sessions.values()) {
                    if (!lost) {
                        // Only new addresses (a bridge, a temporary IPv6 address): offer them, same credentials.
                        if (s.remoteUfrag != null) {
                            s.sendOffer(false);
                        }
                        continue;
                    }
                    if (s.path != null) {
                        s.withdraw("this node's addresses changed");
                    }
                    s.restart("this node's addresses changed");
                }
            } else if (System.nanoTime() - lastStunNanos > timers.stunRefresh().toNanos()) {
                gatherReflexive(); // keeps the NAT's mapping of the socket, and notices a new one
            }
        } catch (RuntimeException e) {
            LOG.warn("watching this node's addresses failed: {}", e.toString());
        }
    }

    // ---- the protocol ----

    private Session session(NodeKey peer) {
        Session s = sessions.get(peer);
        if (s == null) {
            s = new Session(peer);
            sessions.put(peer, s);
            byLocalUfrag.put(s.localUfrag, s);
            published.put(peer, s);
            s.sendOffer(true);
        }
        return s;
    }

    private void handleOffer(NodeKey from, IceOffer offer) {
        Session s = session(from);
        s.offerAnswered = true;
        s.offerRetryNanos = timers.offerRetry().toNanos();
        List<Candidate> usable = offer.candidates().stream().filter(this::reachableFamily).toList();
        List<InetAddress> remoteHosts = offer.candidates().stream().filter(c -> c.type() == Candidate.Type.HOST)
                .map(c -> c.address().getAddress()).sorted(java.util.Comparator.comparing(InetAddress::getHostAddress)).toList();
        if (!offer.ufrag().equals(s.remoteUfrag)) {
            boolean first = s.remoteUfrag == null;
            if (!first && s.path != null && !remoteHosts.equals(s.remoteHosts)) {
                // The peer restarted with other addresses of its own: it moved, and the path to where it was is gone.
                s.withdraw("the peer's addresses changed");
            }
            s.remoteHosts = remoteHosts;
            s.remoteUfrag = offer.ufrag();
            s.remotePassword = offer.password();
            // The peer's checks travel straight and often arrive before its offer, which comes
            // through the relay. On its first credentials, the pairs those checks made stay: they
            // hold the peer's address as its NAT maps it toward us (peer-reflexive) and any
            // nomination. Dropped, the controlling side never sent another nomination (it had its
            // answer and the path), and the peer, whose own checks had been answered, stopped
            // checking: this side had no pair left that could answer and stayed relayed until the
            // retry (2 to 6 tries in 20 in the bench's first rounds). On new credentials (the
            // peer restarted) only a nominated pair stays.
            if (!first) {
                s.pairs.values().removeIf(p -> !p.nominatedByPeer);
            }
            s.pruneMasque(usable);
            usable.forEach(s::addPair);
            LOG.debug("{} credentials from {}: {} candidates", first ? "first" : "new", from, usable.size());
            s.startRound();
        } else {
            int before = s.pairs.size();
            usable.forEach(s::addPair);
            if (s.pairs.size() > before && s.selected == null && s.roundStarted < 0) {
                s.startRound();
            }
        }
        // Every offer carries all the sender's candidates: its server-reflexive ones tell its NAT's mapping.
        // Only what birthday probing may be aimed at: reachable, public, one address, two ports at most.
        List<InetSocketAddress> srflx = usable.stream().filter(c -> c.type() == Candidate.Type.SRFLX && !isPrivate(c.address().getAddress()))
                .map(Candidate::address).toList();
        s.remoteSrflx = srflx.stream().filter(a -> a.getAddress().equals(srflx.get(0).getAddress())).limit(2).toList();
        if (offer.wantsAnswer()) {
            s.sendOffer(false);
        }
    }

    /**
     * Whether a peer's candidate is one to check: an address of a family this node has, and not
     * one a peer could use to aim our checks at this host or its LAN's special addresses
     * (wildcard, multicast, link-local; loopback only when this node's own socket is on it).
     */
    private boolean reachableFamily(Candidate c) {
        InetAddress a = c.address().getAddress();
        if (a.isAnyLocalAddress() || a.isMulticastAddress() || a.isLinkLocalAddress()
                || (a.isLoopbackAddress() && hosts.stream().noneMatch(InetAddress::isLoopbackAddress))
                || (a instanceof java.net.Inet4Address && a.getAddress()[0] == (byte) 255)) {
            count("candidate refused");
            return false;
        }
        boolean v4 = c.address().getAddress() instanceof java.net.Inet4Address;
        return hosts.stream().anyMatch(h -> (h instanceof java.net.Inet4Address) == v4)
                || reflexive.values().stream().anyMatch(r -> (r.getAddress() instanceof java.net.Inet4Address) == v4);
    }

    private void handle(InetSocketAddress from, IceWire.Received m, Base via) {
        if (m.isRequest()) {
            onCheck(from, m, via);
            return;
        }
        String tid = key(m.message().getTransactionID());
        Pending p = pending.get(tid);
        if (p == null) {
            count("answer to no request of ours");
            return;
        }
        if (!from.equals(p.to) || via != p.via) {
            count("answer from another address"); // RFC 8445 7.2.5.2.1: not symmetric, not a valid pair
            return;
        }
        if (p.purpose != Purpose.STUN && !m.signedWith(p.password)) {
            count("answer failed integrity"); // a forged answer must not cancel the real one
            return;
        }
        pending.remove(tid);
        if (p.purpose == Purpose.STUN) {
            InetSocketAddress seen = m.isSuccess() ? m.mapped() : null;
            if (seen != null) {
                onReflexive(p.to, seen);
            } else {
                count("STUN server refused");
            }
            return;
        }
        Session s = p.session;
        if (sessions.get(s.peer) != s) {
            count("answer for an ended session");
            return;
        }
        if (!m.isSuccess()) {
            count("check refused");
            return;
        }
        if (p.purpose == Purpose.PROBE) {
            s.onProbeAnswered(p, from, m.mapped());
            return;
        }
        s.onSuccess(p, m.mapped());
    }

    private void onCheck(InetSocketAddress from, IceWire.Received m, Base via) {
        String username = m.username();
        int colon = username == null ? -1 : username.indexOf(':');
        Session s = colon < 1 ? null : byLocalUfrag.get(username.substring(0, colon));
        if (s == null) {
            count("check for no session of ours");
            return;
        }
        String ufrag = username.substring(0, colon);
        boolean previous = ufrag.equals(s.previousUfrag) && !ufrag.equals(s.localUfrag);
        if (previous && System.nanoTime() > s.previousUntilNanos) {
            byLocalUfrag.remove(ufrag);
            s.previousUfrag = null;
            count("check for no session of ours");
            return;
        }
        String password = previous ? s.previousPassword : s.localPassword;
        if (!m.signedWith(password)) {
            count("check failed integrity");
            return;
        }
        sendVia(via, from, ByteBuffer.wrap(wire.success((org.ice4j.message.Request) m.message(), from, ufrag, password)));
        if (previous) {
            return; // answered, so a working path keeps its consent; the checks of the new credentials decide the rest
        }
        s.onCheck(from, m.priority(), m.nominates(), via);
    }

    /** One datagram from the shared socket, or from another base when {@code via} is one. */
    private boolean sendVia(Base via, InetSocketAddress to, ByteBuffer datagram) {
        return via == null ? socket.send(to, datagram) : via.send(to, datagram);
    }

    private void tick() {
        try {
            long now = System.nanoTime();
            pending.values().removeIf(p -> now - p.sentNanos > TimeUnit.SECONDS.toNanos(10));
            for (TurnClient t : turns) {
                try {
                    t.tick(now);
                } catch (RuntimeException e) {
                    LOG.warn("the TURN allocation on {} failed: {}", t.server, e.toString(), e);
                }
            }
            for (Session s : sessions.values()) {
                try {
                    s.tick(now);
                } catch (RuntimeException e) {
                    LOG.warn("hole punching's timer failed for {}: {}", s.peer, e.toString(), e);
                }
            }
        } catch (RuntimeException e) {
            LOG.warn("hole punching's timer failed: {}", e.toString(), e);
        }
    }

    private static byte[] transactionId() {
        byte[] tid = new byte[12];
        RANDOM.nextBytes(tid);
        return tid;
    }

    private static String key(byte[] tid) {
        return HexFormat.of().formatHex(tid);
    }

    private static String randomIceChars(int length) {
        String alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        StringBuilder out = new StringBuilder(length);
        for (int i = 0; i < length; i++) {
            out.append(alphabet.charAt(RANDOM.nextInt(alphabet.length())));
        }
        return out.toString();
    }

    private enum Purpose { STUN, CHECK, NOMINATE, CONSENT, PROBE }

    /** Checks per pair per round: 100, 200, 400 ms apart, then 400: about 2.5 s of trying. */
    private static final int MAX_CHECKS_PER_ROUND = 8;

    private record Pending(Session session, Pair pair, Purpose purpose, InetSocketAddress to, Base via, String password,
            long sentNanos) {
    }

    /** A pair's identity: the local base (the socket, or a TURN allocation on it) and the remote address. */
    private record PairKey(Base via, InetSocketAddress remote) {
    }

    /** A candidate pair: a local base (our socket, or a TURN allocation made from it) and one remote candidate. */
    private static final class Pair {
        final Candidate remote;
        final Base via;
        long succeededNanos;
        long priority;
        boolean succeeded;
        boolean failed;
        boolean nominatedByPeer;
        int attempts;
        long lastSentNanos;
        InetSocketAddress seenAs; // our address as the peer saw it: which local candidate the pair is
        long rttNanos;

        Pair(Candidate remote, Base via) {
            this.remote = remote;
            this.via = via;
        }

        PairKey key() {
            return new PairKey(via, remote.address());
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

    /** The path ICE selected to one peer: the pair's remote address, from the shared socket or through another base. */
    private final class DirectPath implements PeerPath {
        final InetSocketAddress to;
        final Base via;
        /** DIRECT, or TURN (our allocation or the peer's relayed candidate), or MASQUE (our tunnel through a proxy). */
        final PathKind kind;

        DirectPath(InetSocketAddress to, Base via, PathKind kind) {
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
            return sendVia(via, to, packet);
        }
    }

    /** One peer's ICE session. */
    private final class Session {
        final NodeKey peer;
        final boolean controlling;
        final long tieBreaker = RANDOM.nextLong() >>> 1;
        String localUfrag = randomIceChars(8);
        String localPassword = randomIceChars(24);
        String previousUfrag;
        String previousPassword;
        long previousUntilNanos;
        /** How long to wait before asking for the peer's offer again: doubles while it does not answer (an offline node). */
        long offerRetryNanos = timers.offerRetry().toNanos();
        String remoteUfrag;
        String remotePassword;
        List<InetAddress> remoteHosts = List.of();
        final Map<PairKey, Pair> pairs = new LinkedHashMap<>();
        long roundStarted = -1;
        long firstSuccessNanos = -1;
        Pair selected;
        volatile DirectPath path;
        volatile String selectedDescription;
        volatile long rttNanos = -1;
        long lastConsentNanos;
        long lastConsentSentNanos;
        long lastNominationNanos;
        boolean offerAnswered;
        long lastOfferNanos;
        volatile String reason = "waiting for the peer's candidates";
        /** Why the last round or path failed, until a path is found: what users see while it checks again. */
        String lastFailure;
        long retryAtNanos = -1;
        long retryDelayNanos = timers.retryMin().toNanos();
        /** Tunnels through the MASQUE proxy, one per public remote candidate (while the MASQUE path is on). */
        final Map<InetSocketAddress, MasqueBase> masqueBases = new HashMap<>();
        /** The peer's server-reflexive candidates, from its last offer. */
        List<InetSocketAddress> remoteSrflx = List.of();
        /** Birthday probing, hard side: our sockets (until the window ends, or for the path found on one). */
        BirthdayProbe birthday;
        long birthdayUntilNanos = -1;
        long lastBirthdayNanos = -1;
        /** Attempts without a path since the last path: at most three. */
        int birthdayAttempts;
        int birthdayAnswers;
        long nextBirthdaySendNanos;
        /** Birthday probing, easy side: the peer's public address and the ports still to probe. */
        InetAddress probeTarget;
        final java.util.ArrayDeque<Integer> probePorts = new java.util.ArrayDeque<>();
        long secondSweepAtNanos = -1;

        Session(NodeKey peer) {
            this.peer = peer;
            this.controlling = compare(self.toBytes(), peer.toBytes()) > 0;
        }

        PathInfo info() {
            DirectPath p = path;
            if (p != null) {
                long rtt = rttNanos;
                String through = switch (p.kind) {
                    case TURN -> p.via instanceof TurnClient t ? "TURN server " + address(t.server) : "the peer's TURN server";
                    case MASQUE -> "the MASQUE proxy at " + ((MasqueBase) p.via).proxy();
                    default -> null;
                };
                return new PathInfo(p.kind(), rtt < 0 ? Optional.empty() : Optional.of(Duration.ofNanos(rtt)),
                        Optional.ofNullable(selectedDescription), through == null ? Optional.empty()
                                : Optional.of("no direct pair succeeded; through " + through));
            }
            String why = reason;
            if (udpBlocked) {
                why = why + "; no STUN server answers this node: UDP seems blocked here";
            }
            return new PathInfo(PathKind.RELAY, Optional.empty(), Optional.empty(), Optional.of(why));
        }

        void sendOffer(boolean wantsAnswer) {
            lastOfferNanos = System.nanoTime();
            if (wantsAnswer) {
                offerAnswered = false;
            }
            IceOffer offer = new IceOffer(localUfrag, localPassword, wantsAnswer, localCandidates());
            if (!signals.send(peer, offer.encode())) {
                LOG.debug("offer to {} not sent now (signalling down); trying again", peer);
                offerAnswered = false; // sent again when signalling is back (resendUnansweredOffers) or at the retry
            }
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
            if (masque != null && remote.type() != Candidate.Type.PRFLX) {
                MasqueBase m = masqueBases.get(remote.address());
                if (m == null && masqueBases.size() < MASQUE_TUNNELS_PER_PEER) {
                    m = new MasqueBase(remote.address(), masque, (base, payload) -> onBaseDatagram(base, base.target, payload));
                    masqueBases.put(remote.address(), m);
                }
                if (m != null) {
                    addPair(remote, m);
                }
            }
            for (TurnClient t : turns) {
                InetSocketAddress relayed = t.relayedAddress();
                if (relayed != null && (relayed.getAddress() instanceof java.net.Inet4Address)
                        == (remote.address().getAddress() instanceof java.net.Inet4Address)) {
                    addPair(remote, t);
                }
            }
        }

        void addPair(Candidate remote, Base via) {
            if (via instanceof TurnClient && isPrivate(remote.address().getAddress())) {
                return; // also for peer-reflexive addresses a check through the allocation came from
            }
            PairKey k = new PairKey(via, remote.address());
            Pair p = pairs.get(k);
            if (p == null) {
                if (pairs.size() >= 4 * IceOffer.MAX_CANDIDATES) {
                    // Peer-reflexive addresses must not grow without end, nor lock out the next one:
                    // the oldest that never answered makes room (a hard side's 256 probing sockets
                    // can fill the list with checks an address-dependent filter let in, and the
                    // pair the peer nominates next must still find a place; seen in the lab).
                    Pair oldest = pairs.values().stream().filter(o -> o.remote.type() == Candidate.Type.PRFLX && !o.succeeded
                            && !o.nominatedByPeer && o != selected).findFirst().orElse(null);
                    if (oldest == null) {
                        return;
                    }
                    pairs.remove(oldest.key());
                }
                p = new Pair(remote, via);
                pairs.put(k, p);
            }
            long local = via == null ? Candidate.priority(Candidate.Type.HOST, remote.address().getAddress(), 0)
                    : Candidate.priority(Candidate.Type.RELAY, remote.address().getAddress(), 0);
            p.priority = controlling ? Candidate.pairPriority(local, remote.priority()) : Candidate.pairPriority(remote.priority(), local);
        }

        void startRound() {
            roundStarted = System.nanoTime();
            firstSuccessNanos = -1;
            retryAtNanos = -1;
            for (Pair p : pairs.values()) {
                p.attempts = 0;
                p.failed = false;
                p.succeeded = false;
                p.lastSentNanos = 0;
            }
            if (path == null) {
                reason = lastFailure == null ? "checking " + pairs.size() + " candidate pairs" : lastFailure + "; checking again";
            }
        }

        /** Starts over with new credentials: the peer learns them from our offer and answers with its own. */
        void restart(String why) {
            // The previous credentials stay valid a while: the peer's consent checks on a path that
            // still works use them until our offer reaches it.
            if (previousUfrag != null) {
                byLocalUfrag.remove(previousUfrag);
            }
            previousUfrag = localUfrag;
            previousPassword = localPassword;
            previousUntilNanos = System.nanoTime() + 2 * timers.consentTimeout().toNanos() + timers.offerRetry().toNanos();
            localUfrag = randomIceChars(8);
            localPassword = randomIceChars(24);
            byLocalUfrag.put(localUfrag, this);
            offerRetryNanos = timers.offerRetry().toNanos();
            startRound();
            if (path == null && lastFailure == null) {
                reason = why + "; checking again";
            }
            sendOffer(true);
        }

        void tick(long now) {
            if (!offerAnswered && now - lastOfferNanos > offerRetryNanos) {
                // Lost, or the peer is not connected yet: ask again, less often while it stays silent.
                offerRetryNanos = Math.min(offerRetryNanos * 2, TimeUnit.SECONDS.toNanos(30));
                sendOffer(true);
            }
            if (selected != null) {
                keepConsent(now);
            }
            if (remotePassword == null) {
                return;
            }
            probe(now);
            if (roundStarted >= 0) {
                check(now);
            } else if (selected == null && retryAtNanos >= 0 && now >= retryAtNanos) {
                retryAtNanos = -1;
                restart(reason);
            } else if (selected != null && selected.detour() && retryAtNanos >= 0 && now >= retryAtNanos) {
                retryAtNanos = -1;
                startRound();
            }
        }

        private void check(long now) {
            long elapsed = now - roundStarted;
            List<Pair> ordered = new ArrayList<>(pairs.values());
            ordered.sort(Comparator.comparingLong((Pair p) -> p.priority).reversed());
            int sent = 0;
            for (Pair p : ordered) {
                if (p.succeeded || p.failed || sent == 2) {
                    continue;
                }
                // Retransmissions at 100, 200, 400 ms, then every 400 ms until the round's timeout.
                long rto = TimeUnit.MILLISECONDS.toNanos(100L << Math.min(Math.max(p.attempts - 1, 0), 2));
                if (p.attempts >= MAX_CHECKS_PER_ROUND) {
                    continue; // RFC 8489's Rc: a pair that never answered is not hammered (its peer's checks trigger ours)
                }
                if (p.attempts == 0 || now - p.lastSentNanos >= rto) {
                    send(p, Purpose.CHECK, now);
                    sent++;
                }
            }
            Pair best = ordered.stream().filter(p -> p.succeeded).findFirst().orElse(null);
            if (controlling && best != null && (selected == null || selected != best)) {
                boolean betterPending = ordered.stream().anyMatch(p -> p.priority > best.priority && !p.failed && !p.succeeded);
                // Nominate the best pair that answered once the better ones had a moment to answer
                // too; a pair through TURN or a MASQUE proxy waits longer, since a direct pair often
                // answers a little later and is worth more (no third party, no detour).
                boolean waited = !best.detour() ? now - firstSuccessNanos > TimeUnit.MILLISECONDS.toNanos(150)
                        : now - best.succeededNanos > TimeUnit.SECONDS.toNanos(1);
                if ((!betterPending || waited)
                        && now - lastNominationNanos > TimeUnit.MILLISECONDS.toNanos(100)) {
                    lastNominationNanos = now;
                    send(best, Purpose.NOMINATE, now);
                }
            }
            if (elapsed > timers.checkTimeout().toNanos()) {
                roundStarted = -1;
                ordered.forEach(p -> p.failed = p.failed || !p.succeeded);
                if (selected == null) {
                    reason = describeFailure(ordered);
                    lastFailure = reason;
                    retryAtNanos = now + retryDelayNanos;
                    LOG.info("no direct path to {}: {}; trying again in {} s", peer, reason, TimeUnit.NANOSECONDS.toSeconds(retryDelayNanos));
                    retryDelayNanos = Math.min(retryDelayNanos * 2, timers.retryMax().toNanos());
                    maybeBirthday(now);
                } else if (selected.detour()) {
                    // On TURN (or MASQUE) for want of better: direct checks again later (same credentials, the
                    // TURN pair keeps carrying the peer meanwhile), and birthday probing if it applies.
                    retryAtNanos = now + retryDelayNanos;
                    retryDelayNanos = Math.min(retryDelayNanos * 2, timers.retryMax().toNanos());
                    maybeBirthday(now);
                }
            }
        }

        /**
         * Where plain checks failed, birthday probing if the NATs allow it: this node's NAT maps
         * per destination (its STUN servers saw different ports) and the peer's does not show it
         * (the hard side: many sockets), or the other way round (the easy side: many probes). Both
         * hard, or neither known, and nothing is tried.
         */
        private void maybeBirthday(long now) {
            if (!birthdayProbing || (birthdayUntilNanos >= 0 && now < birthdayUntilNanos) || remotePassword == null
                    || (lastBirthdayNanos >= 0 && now - lastBirthdayNanos < BIRTHDAY_INTERVAL_NANOS) || birthdayAttempts >= 3) {
                return; // three fruitless attempts: the odds were not with us, and the peer's NAT is left alone
            }
            if (pairs.values().stream().anyMatch(p -> p.succeeded)) {
                // A pair answered: the NATs let direct packets through, only the nomination was
                // missed, and the retry finds it. Probing here (an endpoint-independent filter
                // answers every one of the 256 sockets) would only crowd out the pairs that work.
                return;
            }
            Boolean selfHard = hardMapping(reflexive.values());
            Boolean peerHard = hardMapping(remoteSrflx);
            boolean hardSide = Boolean.TRUE.equals(selfHard) && !Boolean.TRUE.equals(peerHard) && !remoteSrflx.isEmpty();
            boolean easySide = Boolean.TRUE.equals(peerHard) && !Boolean.TRUE.equals(selfHard);
            if (!hardSide && !easySide) {
                return;
            }
            if (hardSide) {
                if (sessions.values().stream().anyMatch(o -> o.birthday != null && !o.birthday.found())) {
                    return; // another peer's attempt holds its sockets; this one tries at its next failure
                }
                boolean v4 = remoteSrflx.get(0).getAddress() instanceof java.net.Inet4Address;
                try {
                    birthday = new BirthdayProbe(BIRTHDAY_SOCKETS, v4, (on, from, datagram) -> onBaseDatagram(on, from, datagram));
                } catch (java.io.IOException e) {
                    LOG.info("birthday probing toward {} not possible: {}", peer, e.toString());
                    return;
                }
                nextBirthdaySendNanos = now;
                reason = reason + "; birthday probing from " + BIRTHDAY_SOCKETS + " sockets";
                LOG.info("birthday probing toward {}: {} sockets send to {}", peer, BIRTHDAY_SOCKETS, remoteSrflx);
            } else {
                probeTarget = remoteSrflx.get(0).getAddress();
                probePorts.clear();
                probePorts.addAll(randomPorts());
                secondSweepAtNanos = now + BIRTHDAY_SECOND_SWEEP_NANOS;
                reason = reason + "; birthday probing " + BIRTHDAY_PROBES + " ports of " + probeTarget.getHostAddress();
                LOG.info("birthday probing toward {}: {} random ports of {}", peer, BIRTHDAY_PROBES, probeTarget.getHostAddress());
            }
            lastBirthdayNanos = now;
            birthdayAnswers = 0;
            birthdayAttempts++;
            birthdayUntilNanos = now + BIRTHDAY_WINDOW_NANOS;
            // No restart (new credentials) while probing: the probes carry these.
            retryAtNanos = Math.max(retryAtNanos, birthdayUntilNanos);
        }

        /** 1,024 distinct random ports above 1023, where NATs map. */
        private java.util.Set<Integer> randomPorts() {
            java.util.Set<Integer> chosen = new java.util.LinkedHashSet<>();
            while (chosen.size() < BIRTHDAY_PROBES) {
                chosen.add(1024 + RANDOM.nextInt(65_536 - 1024));
            }
            return chosen;
        }

        /** Birthday probing's sends, each tick of its window. */
        private void probe(long now) {
            if (birthdayUntilNanos < 0) {
                return;
            }
            if (now >= birthdayUntilNanos) {
                boolean checking = birthday != null && pairs.values().stream().anyMatch(p -> birthday.owns(p.via) && p.succeeded);
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

        private void sendProbe(Base via, InetSocketAddress to, long now) {
            byte[] tid = transactionId();
            long prflxPriority = Candidate.priority(Candidate.Type.PRFLX, to.getAddress(), 0);
            byte[] check = wire.check(tid, remoteUfrag + ":" + localUfrag, remotePassword, prflxPriority, controlling, tieBreaker, false);
            pending.put(key(tid), new Pending(this, null, Purpose.PROBE, to, via, remotePassword, now));
            sendVia(via, to, ByteBuffer.wrap(check));
        }

        /** A probe was answered: the pair it found joins the checks as one that succeeded, and is nominated as any. */
        void onProbeAnswered(Pending sent, InetSocketAddress from, InetSocketAddress seenAs) {
            if (sessions.get(peer) != this) {
                return;
            }
            if (++birthdayAnswers > 4) {
                return; // a few found pairs are plenty: more would only crowd the pair list
            }
            if (birthdayAnswers == 1) {
                LOG.info("birthday probe to {} answered from {}", peer, from);
            }
            addPair(new Candidate(Candidate.Type.PRFLX, from, Candidate.priority(Candidate.Type.PRFLX, from.getAddress(), 0)), sent.via);
            Pair p = pairs.get(new PairKey(sent.via, from));
            if (p == null) {
                return;
            }
            if (roundStarted < 0 && selected == null) {
                startRound();
            }
            if (!p.succeeded) {
                p.succeeded = true;
                p.succeededNanos = System.nanoTime();
                p.rttNanos = System.nanoTime() - sent.sentNanos;
                p.seenAs = seenAs;
                if (firstSuccessNanos < 0) {
                    firstSuccessNanos = System.nanoTime();
                }
            }
            if (!controlling && p.nominatedByPeer) {
                select(p);
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
                if (!still.contains(b.target) && (selected == null || selected.via != b)) {
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

        /** Closes birthday probing's sockets (the window ended without a path, or the path on one of them ended). */
        void dropBirthday() {
            if (birthday != null) {
                birthday.close();
                birthday = null;
            }
        }

        private String describeFailure(List<Pair> ordered) {
            if (ordered.isEmpty()) {
                return "the peer offered no candidate this node can reach";
            }
            boolean any = ordered.stream().anyMatch(p -> p.succeeded);
            if (any) {
                return "a pair answered but was not nominated";
            }
            String theirs = ordered.stream().map(p -> p.remote.type().token).distinct().reduce((a, b) -> a + "," + b).orElse("");
            String ours = localCandidates().stream().map(c -> c.type().token).distinct().reduce((a, b) -> a + "," + b).orElse("");
            String hint = theirs.contains("srflx") || theirs.contains("prflx") ? "" : "; the peer has no public UDP endpoint (UDP blocked on its side?)";
            return "no candidate pair succeeded (ours: " + ours + "; theirs: " + theirs + ")" + hint;
        }

        void withdraw(String why) {
            LOG.info("direct path to {} ({}) withdrawn: {}; the relay carries it until a path is confirmed again", peer,
                    selectedDescription, why);
            if (selected != null && birthday != null && birthday.owns(selected.via)) {
                dropBirthday();
            }
            selected = null;
            path = null;
            reason = why;
        }

        private void keepConsent(long now) {
            if (now - lastConsentNanos > timers.consentTimeout().toNanos()) {
                LOG.info("direct path to {} ({}) stopped answering for {} ms: back to the relay", peer, selectedDescription,
                        TimeUnit.NANOSECONDS.toMillis(now - lastConsentNanos));
                boolean onBirthdaySocket = birthday != null && birthday.owns(selected.via);
                selected = null;
                path = null;
                if (onBirthdaySocket) {
                    dropBirthday();
                }
                reason = "the direct path stopped answering";
                lastFailure = reason;
                retryAtNanos = now + retryDelayNanos;
                retryDelayNanos = Math.min(retryDelayNanos * 2, timers.retryMax().toNanos());
                return;
            }
            if (now - lastConsentSentNanos >= timers.consentInterval().toNanos() && remotePassword != null) {
                lastConsentSentNanos = now;
                send(selected, Purpose.CONSENT, now);
            }
        }

        private void send(Pair p, Purpose purpose, long now) {
            byte[] tid = transactionId();
            String username = remoteUfrag + ":" + localUfrag;
            long prflxPriority = Candidate.priority(Candidate.Type.PRFLX, p.remote.address().getAddress(), 0);
            byte[] check = wire.check(tid, username, remotePassword, prflxPriority, controlling, tieBreaker, purpose == Purpose.NOMINATE);
            pending.put(key(tid), new Pending(this, p, purpose, p.remote.address(), p.via, remotePassword, now));
            if (purpose == Purpose.CHECK) {
                p.attempts++;
                p.lastSentNanos = now;
            }
            if (p.via != null) {
                p.via.prepare(p.remote.address(), now);
            }
            if (!sendVia(p.via, p.remote.address(), ByteBuffer.wrap(check))) {
                count("check not sent");
            }
        }

        void onCheck(InetSocketAddress from, long priority, boolean nominates, Base via) {
            Pair p = pairs.get(new PairKey(via, from));
            if (p == null) {
                // Peer-reflexive (RFC 8445 7.3.1.3): the peer's NAT showed us an address it did not know.
                Candidate prflx = new Candidate(Candidate.Type.PRFLX, from, Math.max(1, Math.min(priority, 0xFFFF_FFFFL)));
                if (!reachableFamily(prflx)) {
                    return;
                }
                addPair(prflx, via);
                p = pairs.get(new PairKey(via, from));
                if (p == null) {
                    return;
                }
            }
            if (nominates && !controlling) {
                p.nominatedByPeer = true;
                if (p.succeeded) {
                    select(p);
                    return;
                }
            }
            if (!p.succeeded && remotePassword != null && System.nanoTime() - p.lastSentNanos > TimeUnit.MILLISECONDS.toNanos(50)) {
                if (roundStarted < 0 && selected == null) {
                    startRound();
                }
                send(p, Purpose.CHECK, System.nanoTime()); // triggered check
            }
        }

        void onSuccess(Pending sent, InetSocketAddress seenAs) {
            Pair p = sent.pair;
            long rtt = System.nanoTime() - sent.sentNanos;
            if (sent.purpose == Purpose.CONSENT) {
                if (p == selected) {
                    lastConsentNanos = System.nanoTime();
                    rttNanos = rttNanos < 0 ? rtt : (rttNanos * 7 + rtt) / 8;
                }
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
            if (sent.purpose == Purpose.NOMINATE || (!controlling && p.nominatedByPeer)) {
                select(p);
            }
        }

        private void select(Pair p) {
            boolean moved = selected != p;
            selected = p;
            if (birthday != null && birthday.owns(p.via)) {
                birthday.keepOnly((BirthdayProbe.ProbeSocket) p.via);
            } else if (birthday != null) {
                dropBirthday(); // a path on another base: probing's sockets are not needed (any more)
            }
            if (!p.detour()) {
                roundStarted = -1;
                dropMasque(); // a direct path: the tunnels through the proxy are not needed (until it fails)
            } // else the round goes on: a direct pair that answers later is nominated over the TURN or MASQUE one
            lastConsentNanos = System.nanoTime();
            rttNanos = p.rttNanos;
            retryDelayNanos = timers.retryMin().toNanos();
            String local = p.via != null ? p.via.describe() : localType(p.seenAs) + " " + address(p.seenAs);
            selectedDescription = local + " -> " + p.remote.type().token + " " + address(p.remote.address());
            reason = "";
            lastFailure = null;
            birthdayAttempts = 0;
            if (moved || path == null || !path.to.equals(p.remote.address()) || path.via != p.via) {
                path = new DirectPath(p.remote.address(), p.via, p.kind());
                LOG.info("direct path to {}: {}, rtt {} ms", peer, selectedDescription,
                        String.format(Locale.ROOT, "%.2f", p.rttNanos / 1e6));
            }
        }

        private String localType(InetSocketAddress seenAs) {
            if (seenAs == null) {
                return "prflx";
            }
            for (InetAddress h : hosts) {
                if (h.equals(seenAs.getAddress()) && seenAs.getPort() == socket.localPort()) {
                    return "host";
                }
            }
            return reflexive.containsValue(seenAs) ? "srflx" : "prflx";
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

    /** RFC 1918, RFC 6598 (carrier-grade NAT) and RFC 4193 (unique local) addresses. */
    static boolean isPrivate(InetAddress a) {
        byte[] b = a.getAddress();
        return a.isSiteLocalAddress() || (b.length == 4 && (b[0] & 0xff) == 100 && (b[1] & 0xc0) == 64)
                || (b.length == 16 && (b[0] & 0xfe) == 0xfc);
    }

    private static String address(InetSocketAddress a) {
        return a == null ? "?" : (a.getAddress() instanceof java.net.Inet6Address ? "[" + a.getAddress().getHostAddress() + "]"
                : a.getAddress().getHostAddress()) + ":" + a.getPort();
    }

    private static int compare(byte[] a, byte[] b) {
        return java.util.Arrays.compareUnsigned(a, b);
    }
}
