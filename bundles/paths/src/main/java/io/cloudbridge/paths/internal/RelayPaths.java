package io.cloudbridge.paths.internal;

import io.cloudbridge.boot.log.Correlation;
import io.cloudbridge.api.mesh.PathInfo;
import io.cloudbridge.api.mesh.PathKind;
import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.api.path.DirectPath;
import io.cloudbridge.api.path.DirectPathSocket;
import io.cloudbridge.api.path.DirectPaths;
import io.cloudbridge.api.path.PathBinding;
import io.cloudbridge.api.path.PeerPaths;
import io.cloudbridge.api.transport.HomeRelay;
import io.cloudbridge.api.transport.PacketSession;
import io.cloudbridge.api.transport.RelayEndpoint;
import io.cloudbridge.api.transport.RelayTransport;
import io.cloudbridge.api.transport.TransportState;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Modified;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;
import org.osgi.service.metatype.annotations.Designate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A node's paths to its peers, behind the one {@link PathBinding} its WireGuard engine binds: the
 * overlay's UDP socket ({@link OverlayBinding}), the direct paths hole punching attaches
 * ({@link DirectFinders}), one watch on the node's addresses ({@link NetworkMonitor}), and every
 * peer through the home relay, over the best transport there is. A peer's message takes a
 * confirmed direct path, else the relay session, else the socket to the peer's endpoint.
 *
 * <p>Relay transports are tried by
 * priority, the next one raced in when the better has not connected within {@code raceMillis};
 * the node keeps the best connected session and moves to a better one as soon as it connects (a
 * transport plugin installed while traffic flows), and to the next one when its session is lost
 * for longer than the race delay or its plugin goes away. The WireGuard engine sends through the
 * path it is given and never notices the move: its sessions stay, only the carrier changes.
 *
 * <p>This class holds the state and acts on the decisions of {@link TransportRace} and {@link TransportRetries}.
 * All decisions run on one thread, so the state needs no locks; the data path reads a few volatile
 * references per packet (the finders' list, the active attempt and its session).
 */
@Component(service = {PeerPaths.class, RelayPaths.class}, configurationPid = "cloudbridge.paths", immediate = true)
@Designate(ocd = PathsConfig.class)
public final class RelayPaths implements PeerPaths, OverlayBinding.Routes {
    private static final Logger LOG = LoggerFactory.getLogger(RelayPaths.class);

    private final ScheduledExecutorService decisions = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "relay-path-selection");
        t.setDaemon(true);
        return t;
    });
    private final List<RelayTransport> transports = new CopyOnWriteArrayList<>();
    /** Attempts and sessions by transport: changed on the decisions thread only, read by the commands too. */
    private final Map<RelayTransport, RelayAttempt> attempts = new ConcurrentHashMap<>();
    /** When each transport may be tried again after a failed attempt; decisions thread only. */
    private final TransportRetries retries = new TransportRetries(() -> this.config);
    /** removeTransport calls waiting until the peers have left the transport going away. */
    private final java.util.concurrent.ConcurrentLinkedQueue<java.util.concurrent.CompletableFuture<Void>> handovers =
            new java.util.concurrent.ConcurrentLinkedQueue<>();
    private volatile RelayAttempt active;
    private volatile HomeRelay home;
    /** The engine's binding: the overlay's socket, and where what the relay carries goes. */
    private volatile OverlayBinding binding;
    private final NetworkMonitor monitor = new NetworkMonitor(this::addressesChanged);
    private final DirectFinders finders = new DirectFinders(() -> this.binding, monitor::current);
    private volatile PathsConfig config;
    private volatile String lastChange = "no relay yet";
    /** Per transport, the largest packet its session last carried. */
    private final Map<String, Integer> limits = new ConcurrentHashMap<>();

    @Activate
    public RelayPaths(PathsConfig config) {
        this.config = config;
        decisions.scheduleWithFixedDelay(() -> decide(null), 1, 1, TimeUnit.SECONDS);
        monitor.look(); // a first view before anyone asks for it (hole punching's host candidates)
        // Four times a second: hole punching's handover has 2 s, and listing a few interfaces costs
        // well under a millisecond. The one look at the interfaces the node takes.
        decisions.scheduleWithFixedDelay(this::lookAtAddresses, 250, 250, TimeUnit.MILLISECONDS);
    }

    private void lookAtAddresses() {
        try {
            monitor.look();
        } catch (RuntimeException e) {
            LOG.warn("watching the node's addresses failed: {}", e.toString());
        }
    }

    /**
     * Handover: when the node's own addresses change (another network, a new lease), its relay
     * sessions are bound to a way out that may be gone, and a connection would only notice at its
     * idle timeout. Every session is dialled afresh at once instead; WireGuard's session stays.
     * Decisions thread.
     */
    private void addressesChanged(java.util.Set<java.net.InetAddress> before, java.util.Set<java.net.InetAddress> now) {
        if (attempts.isEmpty()) {
            return;
        }
        LOG.info("the node's addresses changed ({} -> {}): relay sessions dialled afresh", before, now);
        for (RelayAttempt a : attempts.values()) {
            a.end();
        }
        attempts.clear();
        retries.clear();
        switchTo(null, "the node's addresses changed");
        reselect("the node's addresses changed");
    }

    @Modified
    void modified(PathsConfig c) {
        this.config = c;
        decide("configuration changed");
    }

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY)
    void addTransport(RelayTransport transport) {
        transports.add(transport);
        decide("transport " + transport.name() + " added");
    }

    /**
     * A transport is going away (its plugin uninstalled, updated or stopped). DS calls this before
     * the plugin's own deactivation closes its sessions, so when it carries the peers the next
     * transport is brought up first and the peers moved to it, waiting up to
     * {@code paths.handoverMillis}: make before break, so no packet is lost in a gap between the two.
     */
    void removeTransport(RelayTransport transport) {
        transports.remove(transport);
        RelayAttempt a = active;
        HomeRelay relay = home;
        // Worth waiting for only when the peers are on this transport and another can reach the relay.
        if (a == null || a.transport != transport || !a.connected() || relay == null
                || TransportRace.candidates(transports, relay).isEmpty()) {
            decide("transport " + transport.name() + " removed");
            return;
        }
        java.util.concurrent.CompletableFuture<Void> moved = new java.util.concurrent.CompletableFuture<>();
        handovers.add(moved);
        decide("transport " + transport.name() + " going away");
        try {
            moved.get(config.handoverMillis(), TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            LOG.warn("no other transport took the peers within {} ms; {} goes away with them", config.handoverMillis(),
                    transport.name());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (java.util.concurrent.ExecutionException e) {
            // not completed exceptionally
        }
        handovers.remove(moved);
    }

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY)
    void setHomeRelay(HomeRelay relay) {
        home = relay;
        decide("registered with the relay");
    }

    void unsetHomeRelay(HomeRelay relay) {
        if (home == relay) {
            home = null;
            decide("no longer registered");
        }
    }

    @Deactivate
    void deactivate() {
        decisions.shutdownNow();
        try {
            decisions.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        attempts.values().forEach(RelayAttempt::end);
        attempts.clear();
        active = null;
        OverlayBinding b = binding;
        binding = null;
        if (b != null) {
            b.close(); // the engine finds its binding closed, and binds the next paths that come
        }
    }

    // ---- the seam: the engine's binding, and the finders of direct paths ----

    @Override
    public synchronized PathBinding bind(java.net.InetSocketAddress listen, String overlayInterface) throws java.io.IOException {
        OverlayBinding previous = binding;
        if (previous != null && previous.isOpen()) {
            LOG.warn("the overlay's socket was bound again: the last binding ({}) is closed", previous.localAddress());
            previous.close();
        }
        monitor.excludeInterface(overlayInterface);
        OverlayBinding b = OverlayBinding.bind(listen, this, finders, config.socketBatching());
        binding = b;
        return b;
    }

    @Override
    public DirectPathSocket attach(DirectPaths finder) {
        return finders.attach(finder);
    }

    /** What the sessions receive, to the engine's binding of the moment (a closed one refuses it: its engine is gone). */
    private final RelayAttempt.Inbound relayInbound = new RelayAttempt.Inbound() {
        @Override
        public void deliver(ByteBuffer message) {
            OverlayBinding b = binding;
            if (b != null) {
                b.deliver(message);
            }
        }

        @Override
        public void deliverInBurst(ByteBuffer message) {
            OverlayBinding b = binding;
            if (b != null) {
                burstTakenBy.set(b);
                b.deliverInBurst(message);
            }
        }

        @Override
        public void burstEnd() {
            // The binding that took the burst, even if another has replaced it since: its engine holds the packets.
            OverlayBinding b = burstTakenBy.get();
            if (b != null) {
                burstTakenBy.remove();
                b.burstEnd();
            }
        }
    };
    /** Per session thread: the binding that took the burst being delivered. */
    private final ThreadLocal<OverlayBinding> burstTakenBy = new ThreadLocal<>();

    private void decide(String why) {
        try {
            decisions.execute(() -> {
                try {
                    reselect(why);
                } catch (RuntimeException e) {
                    LOG.warn("relay path selection failed: {}", e.toString());
                }
            });
        } catch (java.util.concurrent.RejectedExecutionException stopping) {
            // deactivated
        }
    }

    /** Decisions thread only. */
    private void reselect(String why) {
        HomeRelay relay = home;
        RelayAttempt current = active;
        // Sessions that ended are dropped. One whose plugin is going away is kept while it still
        // carries the peers and nothing else can yet: make before break (see removeTransport).
        for (var it = attempts.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<RelayTransport, RelayAttempt> e = it.next();
            RelayAttempt a = e.getValue();
            PacketSession s = a.session;
            boolean ended = relay == null || a.ended
                    || s != null && (s.state() == TransportState.CLOSED || s.state() == TransportState.FAILED);
            boolean leaving = !transports.contains(e.getKey());
            if (ended || leaving && !(a == current && a.connected())) {
                a.end();
                it.remove();
                if (s != null && s.state() == TransportState.FAILED) {
                    retries.backOff(e.getKey(), System.nanoTime());
                }
            }
        }
        if (relay == null) {
            switchTo(null, why);
            handedOver();
            return;
        }
        List<RelayTransport> ranked = TransportRace.candidates(transports, relay);
        RelayAttempt best = TransportRace.carrier(ranked, attempts, current);
        boolean keepLeaving = best == null && current != null && current.connected() && attempts.get(current.transport) == current;
        if (!keepLeaving && best != active) {
            switchTo(best, why);
        }
        // Close sessions worse than the one in use, and one whose plugin is leaving once another
        // carries the peers: they are not needed any more.
        if (best != null) {
            int bestRank = ranked.indexOf(best.transport);
            for (var it = attempts.entrySet().iterator(); it.hasNext(); ) {
                Map.Entry<RelayTransport, RelayAttempt> e = it.next();
                RelayAttempt a = e.getValue();
                int rank = ranked.indexOf(e.getKey());
                boolean letGo = a != best && a.session != null && a.session.goingAway();
                if ((rank < 0 || rank > bestRank || letGo) && a.connected()) {
                    a.end();
                    it.remove();
                    if (letGo) {
                        retries.backOff(e.getKey(), System.nanoTime()); // the relay no longer serves it: tried again later, not at once
                    }
                }
            }
        }
        handedOver();
        // Start attempts on transports better than the one in use: the best first, the next one
        // when the better has been trying for longer than the race delay without connecting.
        RelayTransport next = TransportRace.next(ranked, attempts, best, retries, System.nanoTime(),
                TimeUnit.MILLISECONDS.toNanos(config.raceMillis()));
        if (next != null) {
            start(next, TransportRace.endpointFor(next, relay).orElseThrow(), relay);
        }
    }

    /** Releases removeTransport calls waiting for the peers to leave their transport. */
    private void handedOver() {
        RelayAttempt a = active;
        if (a == null || transports.contains(a.transport)) {
            for (java.util.concurrent.CompletableFuture<Void> w; (w = handovers.poll()) != null; ) {
                w.complete(null);
            }
        }
    }

    private void start(RelayTransport t, RelayEndpoint endpoint, HomeRelay relay) {
        RelayAttempt a = new RelayAttempt(t, relayInbound, this::decide);
        attempts.put(t, a);
        // Decided again when its head start ends, not at the next one-second tick: a node whose
        // UDP is blocked waits the race delay for WebSocket, not up to a second more.
        try {
            decisions.schedule(() -> decide("the race delay of " + t.name() + " ended"), config.raceMillis() + 1, TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.RejectedExecutionException stopping) {
            // deactivated meanwhile
        }
        // One attempt, one id: in this node's lines for it, and (WebSocket) in the relay's.
        String flow = Correlation.newId("relay");
        try (Correlation.Scope attempt = Correlation.open(flow)) {
            open(t, endpoint, relay, a);
        }
    }

    private void open(RelayTransport t, RelayEndpoint endpoint, HomeRelay relay, RelayAttempt a) {
        LOG.info("opening a relay session over {} to {}", t.name(), endpoint.uri());
        String flow = Correlation.current();
        t.open(endpoint, relay.credentials(), a).whenComplete((session, failure) -> {
            try {
                decisions.execute(() -> {
                    try (Correlation.Scope attempt = Correlation.open(flow)) {
                        opened(t, a, session, failure);
                    }
                });
            } catch (java.util.concurrent.RejectedExecutionException stopping) {
                // Deactivated while it opened: nobody will use the session, so it ends here.
                if (session != null) {
                    session.close();
                }
            }
        });
    }

    /** Decisions thread only: an attempt's first connection is up, or failed. */
    private void opened(RelayTransport t, RelayAttempt a, PacketSession session, Throwable failure) {
        try {
            if (failure != null) {
                LOG.info("relay session over {} failed: {}", t.name(), rootMessage(failure));
                a.ended = true;
                if (attempts.get(t) != a) {
                    // Superseded meanwhile (the node's addresses changed): its failure says nothing of the new network.
                    return;
                }
                long wait = retries.failed(t, failure, System.nanoTime());
                if (wait >= 0) {
                    try {
                        decisions.schedule(() -> decide("the relay's wait for " + t.name() + " ended"), wait + 1, TimeUnit.MILLISECONDS);
                    } catch (java.util.concurrent.RejectedExecutionException stopping) {
                        // deactivated meanwhile
                    }
                }
            } else {
                a.session = session;
                if (attempts.get(t) != a) {
                    session.close(); // superseded meanwhile
                } else {
                    retries.connected(t);
                }
            }
            reselect(failure == null ? "session over " + t.name() + " connected" : "session over " + t.name() + " failed");
        } catch (RuntimeException e) {
            LOG.warn("relay path selection failed: {}", e.toString());
        }
    }

    private void switchTo(RelayAttempt next, String why) {
        if (next != null && next.session != null && next.session.packetSizeSettled()) {
            limits.put(next.transport.name(), next.session.maxPacketSize());
        }
        RelayAttempt previous = active;
        if (previous == next) {
            return;
        }
        active = next;
        lastChange = why;
        if (next == null) {
            LOG.info("peers unreachable through the relay ({})", why);
        } else {
            LOG.info("peers now through the relay over {} ({}){}", next.transport.name(), why,
                    previous == null ? "" : ", was " + previous.transport.name());
        }
        // Announced so that the overlay sends at once what it could not send without a path
        // (its handshakes wait 5 s for a retry otherwise).
        io.cloudbridge.api.event.StateChangePublisher publisher = events;
        if (publisher != null) {
            publisher.publish(new io.cloudbridge.api.event.StateChangeEvent("mesh.relay", "relay",
                    previous == null ? "unreachable" : previous.transport.name(), next == null ? "unreachable" : next.transport.name(),
                    why, java.time.Instant.now()));
        }
    }

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    private volatile io.cloudbridge.api.event.StateChangePublisher events;

    // ---- what the WireGuard engine and the commands see ----

    /** A peer's route: a confirmed direct path wins over the relay; none, and the binding tries the peer's endpoint. */
    @Override
    public PathBinding.Sent send(NodeKey peer, ByteBuffer message) {
        DirectPath direct = finders.pathTo(peer);
        if (direct != null) {
            return DirectFinders.send(direct, message);
        }
        RelayAttempt a = active;
        if (a == null || !a.connected()) {
            return null;
        }
        PacketSession s = a.session;
        return s != null && s.send(peer, message) ? PathBinding.Sent.SENT : PathBinding.Sent.PATH_REFUSED;
    }

    @Override
    public java.util.OptionalInt packetLimit() {
        // A path's limit changes while it runs (QUIC's path MTU discovery starts at 1,200 bytes and
        // searches up to what the path carries), and the overlay polls this: the active session is
        // asked again each time. The limit is the smallest that each transport last had, so that
        // moving between transports does not swing the MTU.
        RelayAttempt a = active;
        PacketSession s = a == null ? null : a.session;
        if (s != null && a.connected() && s.packetSizeSettled()) {
            limits.put(a.transport.name(), s.maxPacketSize());
        }
        return limits.values().stream().mapToInt(Integer::intValue).min();
    }

    @Override
    public Optional<PathInfo> info(NodeKey peer) {
        Optional<PathInfo> ice = finders.info(peer);
        if (ice.isPresent() && ice.get().kind() != PathKind.RELAY) {
            return ice; // direct, or through a TURN server: hole punching's own path
        }
        RelayAttempt a = active;
        if (a == null || !a.connected()) {
            return Optional.empty();
        }
        String why = ice.flatMap(PathInfo::relayedReason).orElse(finders.any() ? "no direct path yet" : "hole punching is not installed");
        // No RTT: the session's is to the relay, not to the peer (cb:ping measures the whole way).
        return Optional.of(new PathInfo(PathKind.RELAY, Optional.empty(), Optional.empty(),
                Optional.of(why + " (relay over " + a.transport.name() + ")")));
    }

    /** The transport carrying the peers now, if any. */
    Optional<String> activeTransport() {
        RelayAttempt a = active;
        return a == null || !a.connected() ? Optional.empty() : Optional.of(a.transport.name());
    }

    /** A line per transport for cb:paths. */
    List<String> describe() {
        return PathStatus.describe(active, lastChange, transports, attempts);
    }

    /** transport:list: each installed transport, its session to the home relay, and what went through it. */
    List<String> transportTable() {
        return PathStatus.transportTable(active, transports, attempts);
    }

    /** cb:relays: the home relay, where its transports listen, and the pinned certificate. */
    List<String> relayTable() {
        return PathStatus.relayTable(home, active);
    }

    Duration raceDelay() {
        return Duration.ofMillis(config.raceMillis());
    }

    private static String rootMessage(Throwable t) {
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t.getMessage() == null ? t.toString() : t.getMessage();
    }

}
