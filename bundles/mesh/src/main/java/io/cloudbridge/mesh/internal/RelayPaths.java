package io.cloudbridge.mesh.internal;

import io.cloudbridge.api.mesh.PathInfo;
import io.cloudbridge.api.mesh.PathKind;
import io.cloudbridge.api.mesh.PathManager;
import io.cloudbridge.api.mesh.PeerPath;
import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.api.overlay.EncryptedPacketInbound;
import io.cloudbridge.api.transport.HomeRelay;
import io.cloudbridge.api.transport.PacketReceiver;
import io.cloudbridge.api.transport.PacketSession;
import io.cloudbridge.api.transport.RelayEndpoint;
import io.cloudbridge.api.transport.RelayTransport;
import io.cloudbridge.api.transport.TransportState;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
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
 * Every peer through the home relay, over the best transport there is. Transports are tried by
 * priority, the next one raced in when the better has not connected within {@code raceMillis};
 * the node keeps the best connected session and moves to a better one as soon as it connects (a
 * transport plugin installed while traffic flows), and to the next one when its session is lost
 * for longer than the race delay or its plugin goes away. The WireGuard engine sends through the
 * path it is given and never notices the move: its sessions stay, only the carrier changes.
 *
 * <p>All decisions run on one thread, so the state needs no locks; the data path reads one
 * volatile reference per packet.
 */
@Component(service = {PathManager.class, RelayPaths.class}, configurationPid = "cloudbridge.paths", immediate = true)
@Designate(ocd = PathsConfig.class)
public final class RelayPaths implements PathManager {
    private static final Logger LOG = LoggerFactory.getLogger(RelayPaths.class);

    /** One transport's attempt or session. */
    final class Attempt implements PacketReceiver {
        final RelayTransport transport;
        final long startedNanos = System.nanoTime();
        volatile PacketSession session;
        volatile boolean ended;

        Attempt(RelayTransport transport) {
            this.transport = transport;
        }

        @Override
        public void onPacket(NodeKey source, ByteBuffer packet) {
            EncryptedPacketInbound in = inbound;
            if (in != null) {
                in.receive(packet, PathKind.RELAY);
            }
        }

        @Override
        public void onStateChanged(PacketSession s, TransportState state, String reason) {
            decide("session over " + transport.name() + " " + state.name().toLowerCase(java.util.Locale.ROOT)
                    + (reason.isEmpty() ? "" : ": " + reason));
        }

        boolean connected() {
            PacketSession s = session;
            return !ended && s != null && s.state() == TransportState.CONNECTED;
        }
    }

    private final ScheduledExecutorService decisions = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "relay-path-selection");
        t.setDaemon(true);
        return t;
    });
    private final List<RelayTransport> transports = new CopyOnWriteArrayList<>();
    /** Attempts and sessions by transport: changed on the decisions thread only, read by the commands too. */
    private final Map<RelayTransport, Attempt> attempts = new ConcurrentHashMap<>();
    /** When each transport may be tried again after a failed attempt; decisions thread only. */
    private final Map<RelayTransport, Long> retryAt = new HashMap<>();
    /** Busy refusals in a row of each transport's first connections; decisions thread only. */
    private final Map<RelayTransport, Integer> busyRefusals = new HashMap<>();
    /** How many busy refusals in a row are tried again after just the relay's asked wait. */
    private static final int BUSY_REFUSALS_HONOURED = 3;
    private final Map<RelayTransport, Integer> failures = new HashMap<>();
    private final Map<NodeKey, PeerPath> paths = new ConcurrentHashMap<>();
    /** removeTransport calls waiting until the peers have left the transport going away. */
    private final java.util.concurrent.ConcurrentLinkedQueue<java.util.concurrent.CompletableFuture<Void>> handovers =
            new java.util.concurrent.ConcurrentLinkedQueue<>();
    private volatile Attempt active;
    private volatile HomeRelay home;
    private volatile EncryptedPacketInbound inbound;
    private volatile PathsConfig config;
    private volatile String lastChange = "no relay yet";
    /** The smallest packet limit a connected session has had (Integer.MAX_VALUE: none yet). */
    /** Per transport, the largest packet its session last carried. */
    private final Map<String, Integer> limits = new ConcurrentHashMap<>();

    @Activate
    public RelayPaths(PathsConfig config) {
        this.config = config;
        decisions.scheduleWithFixedDelay(() -> decide(null), 1, 1, TimeUnit.SECONDS);
        decisions.scheduleWithFixedDelay(this::watchAddresses, 500, 500, TimeUnit.MILLISECONDS);
    }

    /** The overlay's own interface, whose addresses are the overlay's, not the node's way out. */
    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY)
    private volatile io.cloudbridge.api.overlay.OverlayDevice overlay;

    private java.util.Set<java.net.InetAddress> localAddresses;

    /**
     * Handover: when the node's own addresses change (another network, a new lease), its relay
     * sessions are bound to a way out that may be gone, and a connection would only notice at its
     * idle timeout. Every session is dialled afresh at once instead; WireGuard's session stays.
     */
    private void watchAddresses() {
        java.util.Set<java.net.InetAddress> now = new java.util.HashSet<>();
        try {
            io.cloudbridge.api.overlay.OverlayDevice device = overlay;
            String own = device == null ? null : device.name();
            for (java.net.NetworkInterface nic : java.util.Collections.list(java.net.NetworkInterface.getNetworkInterfaces())) {
                if (nic.isUp() && !nic.isLoopback() && !nic.getName().equals(own)) {
                    for (java.net.InetAddress a : java.util.Collections.list(nic.getInetAddresses())) {
                        if (!a.isLinkLocalAddress()) {
                            now.add(a);
                        }
                    }
                }
            }
        } catch (java.net.SocketException e) {
            return;
        }
        java.util.Set<java.net.InetAddress> before = localAddresses;
        localAddresses = now;
        if (before == null || before.equals(now) || attempts.isEmpty()) {
            return;
        }
        LOG.info("the node's addresses changed ({} -> {}): relay sessions dialled afresh", before, now);
        for (Attempt a : attempts.values()) {
            end(a);
        }
        attempts.clear();
        retryAt.clear();
        busyRefusals.clear();
        failures.clear();
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
        Attempt a = active;
        HomeRelay relay = home;
        // Worth waiting for only when the peers are on this transport and another can reach the relay.
        if (a == null || a.transport != transport || !a.connected() || relay == null || candidates(relay).isEmpty()) {
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

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY)
    void setInbound(EncryptedPacketInbound in) {
        inbound = in;
    }

    void unsetInbound(EncryptedPacketInbound in) {
        if (inbound == in) {
            inbound = null;
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
        attempts.values().forEach(this::end);
        attempts.clear();
        active = null;
    }

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

    /** The transports that can reach the home relay, best first. */
    private List<RelayTransport> candidates(HomeRelay relay) {
        List<RelayTransport> out = new ArrayList<>();
        for (RelayTransport t : transports) {
            if (endpointFor(t, relay).isPresent()) {
                out.add(t);
            }
        }
        out.sort(Comparator.comparingInt(RelayTransport::priority).thenComparing(RelayTransport::name));
        return out;
    }

    private static Optional<RelayEndpoint> endpointFor(RelayTransport t, HomeRelay relay) {
        return relay.endpoints().stream().filter(t::supports).findFirst();
    }

    /** Decisions thread only. */
    private void reselect(String why) {
        HomeRelay relay = home;
        Attempt current = active;
        // Sessions that ended are dropped. One whose plugin is going away is kept while it still
        // carries the peers and nothing else can yet: make before break (see removeTransport).
        for (var it = attempts.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<RelayTransport, Attempt> e = it.next();
            Attempt a = e.getValue();
            PacketSession s = a.session;
            boolean ended = relay == null || a.ended
                    || s != null && (s.state() == TransportState.CLOSED || s.state() == TransportState.FAILED);
            boolean leaving = !transports.contains(e.getKey());
            if (ended || leaving && !(a == current && a.connected())) {
                end(a);
                it.remove();
                if (s != null && s.state() == TransportState.FAILED) {
                    backOff(e.getKey());
                }
            }
        }
        if (relay == null) {
            switchTo(null, why);
            handedOver();
            return;
        }
        List<RelayTransport> ranked = candidates(relay);
        // The best connected session carries the peers; better ones still connecting may replace it.
        // One still finding its packet size (QUIC's path MTU discovery) takes the peers only from
        // no path at all, or from a worse one once it has found it: moving onto it earlier would
        // lose their full-size packets meanwhile. One the relay is letting go keeps them only
        // until another has connected.
        Attempt best = null;
        Attempt bestConnected = null;
        for (RelayTransport t : ranked) {
            Attempt a = attempts.get(t);
            if (a != null && a.connected()) {
                if (bestConnected == null || bestConnected.session.goingAway() && !a.session.goingAway()) {
                    bestConnected = a;
                }
                if (a.session.packetSizeSettled() && !a.session.goingAway()) {
                    best = a;
                    break;
                }
            }
        }
        if (best == null) {
            best = bestConnected;
        } else if (current != null && current != best && current.connected() && !current.session.goingAway()
                && attempts.get(current.transport) == current && ranked.indexOf(current.transport) >= 0
                && ranked.indexOf(current.transport) < ranked.indexOf(best.transport)) {
            best = current; // better than the settled one, and carrying the peers already
        }
        boolean keepLeaving = best == null && current != null && current.connected() && attempts.get(current.transport) == current;
        if (!keepLeaving && best != active) {
            switchTo(best, why);
        }
        // Close sessions worse than the one in use, and one whose plugin is leaving once another
        // carries the peers: they are not needed any more.
        if (best != null) {
            int bestRank = ranked.indexOf(best.transport);
            for (var it = attempts.entrySet().iterator(); it.hasNext(); ) {
                Map.Entry<RelayTransport, Attempt> e = it.next();
                Attempt a = e.getValue();
                int rank = ranked.indexOf(e.getKey());
                boolean letGo = a != best && a.session != null && a.session.goingAway();
                if ((rank < 0 || rank > bestRank || letGo) && a.connected()) {
                    end(a);
                    it.remove();
                    if (letGo) {
                        backOff(e.getKey()); // the relay no longer serves it: tried again later, not at once
                    }
                }
            }
        }
        handedOver();
        // Start attempts on transports better than the one in use: the best first, the next one
        // when the better has been trying for longer than the race delay without connecting.
        long now = System.nanoTime();
        long race = TimeUnit.MILLISECONDS.toNanos(config.raceMillis());
        boolean leavingBest = best != null && best.session.goingAway();
        for (RelayTransport t : ranked) {
            if (best != null && t == best.transport) {
                if (!leavingBest) {
                    break;
                }
                continue; // the relay is letting it go: the next transport is started at once
            }
            Attempt a = attempts.get(t);
            if (a == null) {
                Long at = retryAt.get(t);
                if (at != null && now < at) {
                    continue; // failed recently: the next one gets its chance meanwhile
                }
                start(t, endpointFor(t, relay).orElseThrow(), relay);
                break;
            }
            if (now - a.startedNanos < race) {
                break; // still within its head start
            }
        }
    }

    /** Releases removeTransport calls waiting for the peers to leave their transport. */
    private void handedOver() {
        Attempt a = active;
        if (a == null || transports.contains(a.transport)) {
            for (java.util.concurrent.CompletableFuture<Void> w; (w = handovers.poll()) != null; ) {
                w.complete(null);
            }
        }
    }

    private void start(RelayTransport t, RelayEndpoint endpoint, HomeRelay relay) {
        Attempt a = new Attempt(t);
        attempts.put(t, a);
        // Decided again when its head start ends, not at the next one-second tick: a node whose
        // UDP is blocked waits the race delay for WebSocket, not up to a second more.
        try {
            decisions.schedule(() -> decide("the race delay of " + t.name() + " ended"), config.raceMillis() + 1, TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.RejectedExecutionException stopping) {
            // deactivated meanwhile
        }
        LOG.info("opening a relay session over {} to {}", t.name(), endpoint.uri());
        t.open(endpoint, relay.credentials(), a).whenComplete((session, failure) -> decisions.execute(() -> {
            if (failure != null) {
                LOG.info("relay session over {} failed: {}", t.name(), rootMessage(failure));
                a.ended = true;
                io.cloudbridge.api.transport.RelayBusyException busy = busy(failure);
                if (busy != null && busyRefusals.merge(t, 1, Integer::sum) <= BUSY_REFUSALS_HONOURED) {
                    // The relay asked to be tried again then (a plugin of its restarting, its control
                    // plane busy): nothing against the transport, so its backoff does not grow.
                    long wait = Math.max(config.minRetryMillis(), Math.min(config.maxRetryMillis(), busy.retryAfter().toMillis()));
                    retryAt.put(t, System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(wait));
                    try {
                        decisions.schedule(() -> decide("the relay's wait for " + t.name() + " ended"), wait + 1, TimeUnit.MILLISECONDS);
                    } catch (java.util.concurrent.RejectedExecutionException stopping) {
                        // deactivated meanwhile
                    }
                } else {
                    // Failed, or still busy after a few tries (its database down, say): the backoff
                    // grows, so that the relay's nodes do not keep a failing relay busy all along.
                    backOff(t);
                }
            } else {
                a.session = session;
                if (attempts.get(t) != a) {
                    session.close(); // superseded meanwhile
                } else {
                    failures.remove(t);
                    busyRefusals.remove(t);
                    retryAt.remove(t);
                }
            }
            reselect(failure == null ? "session over " + t.name() + " connected" : "session over " + t.name() + " failed");
        }));
    }

    private static io.cloudbridge.api.transport.RelayBusyException busy(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t instanceof io.cloudbridge.api.transport.RelayBusyException b) {
                return b;
            }
        }
        return null;
    }

    private void backOff(RelayTransport t) {
        int n = failures.merge(t, 1, Integer::sum);
        long delay = Math.min(config.maxRetryMillis(), config.minRetryMillis() << Math.min(n - 1, 16));
        retryAt.put(t, System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(delay));
    }

    private void end(Attempt a) {
        a.ended = true;
        PacketSession s = a.session;
        if (s != null) {
            s.close();
        }
    }

    private void switchTo(Attempt next, String why) {
        if (next != null && next.session != null && next.session.packetSizeSettled()) {
            limits.put(next.transport.name(), next.session.maxPacketSize());
        }
        Attempt previous = active;
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

    /** Hole punching, when the ice bundle runs: a confirmed direct path wins over the relay. */
    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    private volatile io.cloudbridge.api.mesh.NatTraversal natTraversal;

    @Override
    public Optional<PeerPath> pathFor(NodeKey peer) {
        io.cloudbridge.api.mesh.NatTraversal nat = natTraversal;
        if (nat != null) {
            Optional<PeerPath> direct = nat.directPath(peer);
            if (direct.isPresent()) {
                return direct;
            }
        }
        Attempt a = active;
        if (a == null || !a.connected()) {
            return Optional.empty();
        }
        return Optional.of(paths.computeIfAbsent(peer, RelayPeerPath::new));
    }

    @Override
    public java.util.OptionalInt packetLimit() {
        // A path's limit changes while it runs (QUIC's path MTU discovery starts at 1,200 bytes and
        // searches up to what the path carries), and the overlay polls this: the active session is
        // asked again each time. The limit is the smallest that each transport last had, so that
        // moving between transports does not swing the MTU.
        Attempt a = active;
        PacketSession s = a == null ? null : a.session;
        if (s != null && a.connected() && s.packetSizeSettled()) {
            limits.put(a.transport.name(), s.maxPacketSize());
        }
        return limits.values().stream().mapToInt(Integer::intValue).min();
    }

    @Override
    public Optional<PathInfo> info(NodeKey peer) {
        io.cloudbridge.api.mesh.NatTraversal nat = natTraversal;
        Optional<PathInfo> ice = nat == null ? Optional.empty() : nat.info(peer);
        if (ice.isPresent() && ice.get().kind() != PathKind.RELAY) {
            return ice; // direct, or through a TURN server: hole punching's own path
        }
        Attempt a = active;
        if (a == null || !a.connected()) {
            return Optional.empty();
        }
        String why = ice.flatMap(PathInfo::relayedReason).orElse(nat == null ? "hole punching is not installed" : "no direct path yet");
        // No RTT: the session's is to the relay, not to the peer (cb:ping measures the whole way).
        return Optional.of(new PathInfo(PathKind.RELAY, Optional.empty(), Optional.empty(),
                Optional.of(why + " (relay over " + a.transport.name() + ")")));
    }

    /** The transport carrying the peers now, if any. */
    Optional<String> activeTransport() {
        Attempt a = active;
        return a == null || !a.connected() ? Optional.empty() : Optional.of(a.transport.name());
    }

    /** A line per transport for cb:paths. */
    List<String> describe() {
        List<String> out = new ArrayList<>();
        Attempt a = active;
        out.add("relay path: " + (a == null ? "none" : a.transport.name()) + " (" + lastChange + ")");
        for (RelayTransport t : transports) {
            Attempt at = attempts.get(t);
            PacketSession s = at == null ? null : at.session;
            out.add(String.format("  %-10s priority %3d  %s", t.name(), t.priority(),
                    s == null ? (at == null ? "idle" : "connecting") : s.state().name().toLowerCase(java.util.Locale.ROOT) + ", "
                            + s.counters().packetsSent() + " sent, " + s.counters().packetsReceived() + " received, "
                            + s.counters().packetsDropped() + " dropped"));
        }
        return out;
    }

    /** transport:list: each installed transport, its session to the home relay, and what went through it. */
    List<String> transportTable() {
        List<String> out = new ArrayList<>();
        out.add(String.format("%-10s %4s %-13s %-28s %9s %6s %10s %12s %10s %12s %8s", "TRANSPORT", "PRIO", "STATE", "RELAY",
                "RTT ms", "MTU", "PKTS OUT", "BYTES OUT", "PKTS IN", "BYTES IN", "DROPS"));
        Attempt in = active;
        List<RelayTransport> sorted = new ArrayList<>(transports);
        sorted.sort(Comparator.comparingInt(RelayTransport::priority).thenComparing(RelayTransport::name));
        for (RelayTransport t : sorted) {
            Attempt a = attempts.get(t);
            PacketSession s = a == null ? null : a.session;
            String state = s == null ? (a == null ? "idle" : "connecting") : s.state().name().toLowerCase(java.util.Locale.ROOT);
            if (in != null && in.transport == t && a != null && a.connected()) {
                state = state + " *";
            }
            var c = s == null ? io.cloudbridge.api.transport.TransportCounters.ZERO : s.counters();
            out.add(String.format(java.util.Locale.ROOT, "%-10s %4d %-13s %-28s %9s %6s %10d %12d %10d %12d %8d", t.name(),
                    t.priority(), state, s == null ? "-" : s.relay().uri().toString(),
                    s == null ? "-" : s.rtt().map(d -> String.format(java.util.Locale.ROOT, "%.2f", d.toNanos() / 1e6)).orElse("-"),
                    s == null ? "-" : String.valueOf(s.maxPacketSize()), c.packetsSent(), c.bytesSent(), c.packetsReceived(),
                    c.bytesReceived(), c.packetsDropped()));
        }
        out.add("* carries the peers now; MTU: the largest WireGuard packet the session takes");
        return out;
    }

    /** cb:relays: the home relay, where its transports listen, and the pinned certificate. */
    List<String> relayTable() {
        HomeRelay relay = home;
        if (relay == null) {
            return List.of("no home relay (not registered)");
        }
        List<String> out = new ArrayList<>();
        Attempt a = active;
        String pin = relay.endpoints().stream().map(e -> e.certificateSha256().orElse("")).filter(p -> !p.isEmpty()).findFirst()
                .orElse("(none)");
        String name = relay.endpoints().isEmpty() ? "-" : relay.endpoints().get(0).name();
        out.add(String.format("%-24s home, over %s; certificate %s", name, a == null ? "nothing yet" : a.transport.name(), pin));
        for (RelayEndpoint e : relay.endpoints()) {
            out.add("  " + e.uri());
        }
        return out;
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

    /** One peer through whichever session is active at the moment of each packet. */
    private final class RelayPeerPath implements PeerPath {
        private final NodeKey peer;

        RelayPeerPath(NodeKey peer) {
            this.peer = peer;
        }

        @Override
        public PathKind kind() {
            return PathKind.RELAY;
        }

        @Override
        public boolean send(ByteBuffer packet) {
            Attempt a = active;
            PacketSession s = a == null ? null : a.session;
            return s != null && s.send(peer, packet);
        }
    }
}
