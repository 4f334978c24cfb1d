package io.cloudbridge.ice.internal;

import io.cloudbridge.boot.log.Correlation;
import io.cloudbridge.api.mesh.PathInfo;
import io.cloudbridge.api.mesh.PathKind;
import io.cloudbridge.api.path.DirectPath;
import io.cloudbridge.api.net.NodeKey;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;

/**
 * Hole punching for every peer, on the overlay's one socket (RFC 8445, full ICE for one
 * component, aggressive enough to find a path within a second). Per peer: credentials and
 * candidates go out over signalling, connectivity checks run on every candidate pair, the
 * controlling side (the node with the larger key) nominates the best pair that answered, and
 * consent checks (RFC 7675, on a much shorter timer) keep confirming it. A path that stops
 * answering is withdrawn, so the peer falls back to the relay, and hole punching starts over after
 * a backoff. A change of the node's own addresses regathers and restarts every peer at once.
 *
 * <p>This class is the engine's edge; the protocol's roles are {@link Gatherer}, {@link PeerSession},
 * {@link Checklist}, {@link Selection}, {@link ConsentFreshness} and {@link BirthdayProbing}, with
 * {@link BindingDispatch} routing what arrives. Stages of what comes in, in order:
 * <ol>
 * <li>any thread: a datagram is told apart (TURN ChannelData, TURN, STUN) and decoded, and
 * WireGuard's packets that came to another base go to the overlay at once;
 * <li>the engine's thread, through a bounded queue (a flood must not grow the heap): the message
 * is routed, and the timer ticks every session.
 * </ol>
 *
 * <p>All state changes run on one thread; the data path reads one volatile reference per packet.
 */
final class IceEngine {
    private static final Logger LOG = IceContext.LOG;

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

    private final IceContext ctx;
    private final Gatherer gatherer;
    private final BindingDispatch dispatch;
    private final ScheduledExecutorService loop;
    /** What commands and the paths read, from any thread. */
    private final Map<NodeKey, PeerSession> published = new ConcurrentHashMap<>();

    /** Where WireGuard's packets that came to another base than the overlay's socket go (the overlay's inbound). */
    private volatile java.util.function.BiConsumer<ByteBuffer, PathKind> otherBasePackets = (packet, kind) -> { };
    /** Work handed to the engine's thread and not done yet: bounded, so a flood cannot grow the heap. */
    private final java.util.concurrent.atomic.AtomicInteger queued = new java.util.concurrent.atomic.AtomicInteger();
    private static final int MAX_QUEUED = 4096;

    IceEngine(NodeKey self, Socket socket, Signals signals, Timers timers, Supplier<List<InetAddress>> hostAddresses,
            Supplier<List<InetSocketAddress>> stunServers, Supplier<List<TurnServer>> turnServers, ScheduledExecutorService loop,
            PathMeters meters) {
        this.ctx = new IceContext(self, socket, signals, timers, loop, this::onBaseDatagram, meters);
        this.gatherer = new Gatherer(ctx, hostAddresses, stunServers, turnServers);
        this.dispatch = new BindingDispatch(ctx, gatherer);
        this.loop = loop;
    }

    /** Whether to try birthday-paradox probing where plain hole punching failed and the NATs' mappings allow it. */
    void birthdayProbing(boolean on) {
        ctx.birthdayProbing = on;
    }

    void onAddressesChanged(java.util.function.BiConsumer<List<InetAddress>, List<InetAddress>> listener) {
        gatherer.addressesChanged = listener;
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
        if (ctx.masque == path) {
            return;
        }
        ctx.masque = path;
        for (PeerSession s : ctx.sessions.values()) {
            if (s.selection.selected != null && s.selection.selected.via instanceof MasqueBase) {
                s.selection.withdraw(path == null ? "the MASQUE path was turned off" : "the MASQUE proxy changed");
            }
            s.checklist.dropMasque();
            s.checklist.masqueBases.clear();
            s.checklist.pairs.values().removeIf(p -> p.via instanceof MasqueBase);
            if (path != null && s.remoteUfrag != null) {
                s.checklist.pairs.values().stream().filter(p -> p.via == null).map(p -> p.remote).toList().forEach(s.checklist::addPair);
                if (s.selection.selected == null && s.checklist.roundStarted < 0) {
                    s.checklist.startRound();
                }
            }
        }
    }

    void start() {
        loop.execute(gatherer::gatherFirst);
        loop.scheduleWithFixedDelay(this::tick, ctx.timers.tick().toMillis(), ctx.timers.tick().toMillis(), TimeUnit.MILLISECONDS);
        // Four times a second: a handover has 2 s, and listing a few interfaces costs well under a millisecond.
        loop.scheduleWithFixedDelay(gatherer::watchAddresses, 250, 250, TimeUnit.MILLISECONDS);
        loop.scheduleWithFixedDelay(gatherer::watchServers, 100, 100, TimeUnit.MILLISECONDS);
    }

    void stop() {
        try {
            // The allocations are given back, so the TURN servers free their ports now rather than in 10 min.
            loop.submit(() -> {
                gatherer.turns.forEach(TurnClient::release);
                ctx.sessions.values().forEach(s -> s.probing.dropBirthday());
                ctx.sessions.values().forEach(s -> s.checklist.dropMasque());
            }).get(500, TimeUnit.MILLISECONDS);
        } catch (Exception stoppedOrSlow) {
            // best effort: the allocations expire on their own
        }
        loop.shutdownNow();
        boolean stopped = false;
        try {
            stopped = loop.awaitTermination(2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        // If the loop was too busy to do it above: once it has stopped its sessions are ours to touch
        // (a plain map, the loop's own), and their probe sockets and MASQUE paths are closed then.
        Runnable dropPaths = () -> {
            ctx.sessions.values().forEach(s -> s.probing.dropBirthday());
            ctx.sessions.values().forEach(s -> s.checklist.dropMasque());
        };
        if (stopped) {
            dropPaths.run();
        } else {
            IceContext.LOG.warn("the ICE engine's thread did not stop within 2 s; its probe sockets and MASQUE paths close when it does");
            Thread later = new Thread(() -> {
                try {
                    if (loop.awaitTermination(1, TimeUnit.MINUTES)) {
                        dropPaths.run();
                    } else {
                        IceContext.LOG.warn("the ICE engine's thread still runs a minute after stop; its probe sockets stay open");
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }, "ice-engine-stop");
            later.setDaemon(true);
            later.start();
        }
        published.clear();
        ctx.wire.close();
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
            TurnClient via = gatherer.turnByServer.get(from);
            InetSocketAddress peer = via == null ? null : via.unwrapChannelData(datagram);
            if (peer == null) {
                ctx.count(via == null ? "channel data from no TURN server of ours" : "channel data on an unbound channel");
                return;
            }
            onRelayed(via, peer, datagram);
            return;
        }
        if (datagram.remaining() > IceWire.MAX_MESSAGE && !gatherer.turnByServer.containsKey(from)) {
            ctx.count("TURN message from no TURN server of ours"); // a long one is a Data indication: not parsed for a stranger
            return;
        }
        IceWire.Received m = IceWire.decode(datagram);
        if (m == null) {
            ctx.count("malformed STUN");
            return;
        }
        if (m.isTurn()) {
            TurnClient via = gatherer.turnByServer.get(from);
            if (via == null) {
                ctx.count("TURN message from no TURN server of ours");
            } else if (m.type() == org.ice4j.message.Message.DATA_INDICATION) {
                InetSocketAddress peer = m.peer();
                byte[] data = m.data();
                if (peer == null || data == null) {
                    ctx.count("data indication without peer or data");
                } else {
                    onRelayed(via, peer, ByteBuffer.wrap(data));
                }
            } else {
                submit("TURN", () -> via.onMessage(m, System.nanoTime()));
            }
            return;
        }
        submit("STUN", () -> dispatch.handle(from, m, null));
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
            ctx.count("malformed STUN " + switch (via.kind()) {
                case TURN -> "through TURN";
                case MASQUE -> "through the MASQUE proxy";
                default -> "on a probing socket";
            });
            return;
        }
        submit("STUN", () -> dispatch.handle(peer, m, via));
    }

    void onOffer(NodeKey from, byte[] payload) {
        IceOffer offer;
        try {
            offer = IceOffer.decode(payload);
        } catch (IllegalArgumentException e) {
            ctx.count("bad offer");
            LOG.debug("an offer from {} refused: {}", from, e.getMessage());
            return;
        }
        submit("offer", () -> {
            PeerSession s = session(from);
            // The attempt the offer belongs to: ours when we control, else the one its sender's credentials name.
            try (Correlation.Scope flow = Correlation.open(s.controlling ? s.correlationId() : PeerSession.idOf(offer.ufrag()))) {
                s.onOffer(offer);
            }
        });
    }

    /** Runs work on the engine's thread, or drops it (counted) when too much is waiting: a flood must not grow the heap. */
    private void submit(String what, Runnable work) {
        if (queued.incrementAndGet() > MAX_QUEUED) {
            queued.decrementAndGet();
            ctx.count(what + " dropped: engine busy");
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
        submit("resend offers", () -> ctx.sessions.values().forEach(s -> {
            if (!s.offerAnswered) {
                s.sendOffer(true);
            }
        }));
    }

    /** The tenant's peers now: sessions start for new ones and end for those gone. */
    void setPeers(Collection<NodeKey> peers) {
        Set<NodeKey> wanted = Set.copyOf(peers);
        loop.execute(() -> {
            for (NodeKey k : List.copyOf(ctx.sessions.keySet())) {
                if (!wanted.contains(k)) {
                    PeerSession s = ctx.sessions.remove(k);
                    s.probing.dropBirthday();
                    s.checklist.dropMasque();
                    ctx.byLocalUfrag.remove(s.localUfrag);
                    if (s.previousUfrag != null) {
                        ctx.byLocalUfrag.remove(s.previousUfrag);
                    }
                    published.remove(k);
                }
            }
            for (NodeKey k : wanted) {
                if (!k.equals(ctx.self)) {
                    session(k);
                }
            }
        });
    }

    // ---- output, from any thread ----

    Optional<DirectPath> directPath(NodeKey peer) {
        PeerSession s = published.get(peer);
        return s == null ? Optional.empty() : Optional.ofNullable(s.selection.path);
    }

    Optional<PathInfo> info(NodeKey peer) {
        PeerSession s = published.get(peer);
        return s == null ? Optional.empty() : Optional.of(PathStatus.info(s));
    }

    Map<String, Long> drops() {
        Map<String, Long> out = new java.util.TreeMap<>();
        ctx.drops.forEach((k, v) -> out.put(k, v.sum()));
        return out;
    }

    String gatherState() {
        return gatherer.gatherState;
    }

    /** The MASQUE tunnels, one per peer's public candidate, with their states. */
    String masqueStates() {
        try {
            return loop.submit(() -> {
                List<String> out = new ArrayList<>();
                for (PeerSession s : ctx.sessions.values()) {
                    s.checklist.masqueBases.values().forEach(b -> out.add(PathStatus.address(b.target) + " " + b.state()));
                }
                return out.isEmpty() ? "no tunnel yet" : String.join(", ", out);
            }).get(2, TimeUnit.SECONDS);
        } catch (Exception e) {
            return "(busy)";
        }
    }

    /** One line per TURN server: its allocation's state. */
    List<String> turnStates() {
        return gatherer.turnByServer.values().stream().map(t -> "TURN " + PathStatus.address(t.server) + ": " + t.state()).sorted().toList();
    }

    // ---- on the engine's thread ----

    private PeerSession session(NodeKey peer) {
        PeerSession s = ctx.sessions.get(peer);
        if (s == null) {
            s = new PeerSession(ctx, gatherer, peer);
            ctx.sessions.put(peer, s);
            ctx.byLocalUfrag.put(s.localUfrag, s);
            published.put(peer, s);
            s.sendOffer(true);
        }
        return s;
    }

    private void tick() {
        try {
            long now = System.nanoTime();
            ctx.pending.values().removeIf(p -> now - p.sentNanos() > TimeUnit.SECONDS.toNanos(10));
            for (TurnClient t : gatherer.turns) {
                try {
                    t.tick(now);
                } catch (RuntimeException e) {
                    LOG.warn("the TURN allocation on {} failed: {}", t.server, e.toString(), e);
                }
            }
            for (PeerSession s : ctx.sessions.values()) {
                try (Correlation.Scope flow = Correlation.open(s.correlationId())) {
                    try {
                        s.tick(now);
                    } catch (RuntimeException e) {
                        LOG.warn("hole punching's timer failed for {}: {}", s.peer, e.toString(), e);
                    }
                }
            }
        } catch (RuntimeException e) {
            LOG.warn("hole punching's timer failed: {}", e.toString(), e);
        }
    }
}
