package io.cloudbridge.ice.internal;

import io.cloudbridge.api.mesh.PathInfo;
import io.cloudbridge.api.mesh.PathKind;
import io.cloudbridge.api.mesh.PeerDirectory;
import io.cloudbridge.api.mesh.SignalListener;
import io.cloudbridge.api.mesh.Signalling;
import io.cloudbridge.api.net.IpPrefix;
import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.api.overlay.OverlayDevice;
import io.cloudbridge.api.path.DirectPath;
import io.cloudbridge.api.path.DirectPathSocket;
import io.cloudbridge.api.path.DirectPaths;
import io.cloudbridge.api.path.PeerPaths;
import io.cloudbridge.api.transport.HomeRelay;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Hole punching, attached to the paths as a finder of direct paths: it takes the STUN datagrams of
 * the overlay's socket, hears offers on the signalling stream, keeps an {@link IceEngine} session
 * per peer of the directory, and gives the paths the confirmed direct path of each peer that has
 * one. A new configuration restarts it (the peers are relayed meanwhile, for a moment).
 *
 * <p>It offers no service of its own but the commands': it attaches itself to the paths and adds
 * itself to the signalling stream. Offered as services, each would be bound by a component this
 * one needs (the paths, the control client), and DS cannot activate two components that each wait
 * for the other's service (a "ServiceFactory.getService() resulted in a cycle" left the STUN claim
 * unbound in the NAT lab, a few tries in twenty).
 */
@Component(service = IceAgent.class,
        configurationPid = "cloudbridge.ice", immediate = true)
public final class IceAgent implements DirectPaths, SignalListener {
    private static final Logger LOG = LoggerFactory.getLogger(IceAgent.class);

    /** The node's interface: its key, its name and addresses (never a host candidate). */
    @Reference
    private OverlayDevice overlay;

    /**
     * The paths' socket while they are attached. Dynamic, so that a replaced paths bundle finds
     * hole punching still holding its pairs: it attaches again to the new paths, and its checks
     * use the new socket on the same port.
     */
    private volatile DirectPathSocket socket;
    /** The paths {@link #socket} belongs to: DS binds a replacement before it unbinds the last. */
    private PeerPaths attachedTo;

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY)
    synchronized void bindPaths(PeerPaths paths) {
        DirectPathSocket previous = socket;
        socket = paths.attach(this);
        attachedTo = paths;
        if (previous != null) {
            previous.close();
        }
    }

    synchronized void unbindPaths(PeerPaths paths) {
        if (attachedTo != paths) {
            return; // already attached to its replacement
        }
        DirectPathSocket s = socket;
        socket = null;
        attachedTo = null;
        if (s != null) {
            s.close();
        }
    }

    @Reference
    private Signalling signalling;

    @Reference
    private PeerDirectory directory;

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY)
    private volatile HomeRelay home;

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY)
    private volatile io.cloudbridge.api.event.StateChangePublisher events;

    /** The MASQUE path, while the masque bundle offers it (masque.wireguardPath, or 'up --masque-proxy URL'). */
    private volatile io.cloudbridge.api.tunnel.MasquePath masque;

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY)
    void bindMasque(io.cloudbridge.api.tunnel.MasquePath path) {
        masque = path;
        IceEngine e = engine;
        if (e != null) {
            e.useMasque(path);
        }
    }

    void unbindMasque(io.cloudbridge.api.tunnel.MasquePath path) {
        if (masque == path) {
            masque = null;
            IceEngine e = engine;
            if (e != null) {
                e.useMasque(null);
            }
        }
    }

    /** Path attempts and losses, counted across engines (a new configuration starts a new one). */
    private final PathMeters pathMeters = new PathMeters();

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY)
    void bindMeterRegistry(MeterRegistry registry) {
        pathMeters.bind(registry);
    }

    void unbindMeterRegistry(MeterRegistry registry) {
        pathMeters.unbind(registry);
    }

    private IceConfig config;
    private volatile IceEngine engine;
    /** The STUN servers, resolved off the engine's thread (a slow DNS must not stall consent checks). */
    private volatile List<InetSocketAddress> resolvedStunServers = List.of();
    private volatile List<IceEngine.TurnServer> resolvedTurnServers = List.of();
    private String turnPassword = "";
    private java.util.concurrent.ScheduledExecutorService resolver;

    @Activate
    void activate(IceConfig c) {
        start(c);
        try {
            signalling.addListener(this);
        } catch (RuntimeException e) {
            stop(); // DS calls no deactivate after a failed activate: the engine's threads go here
            throw e;
        }
    }

    private void start(IceConfig c) {
        config = c;
        if (!c.directPaths()) {
            LOG.info("direct paths are off (ice.directPaths: false): every peer stays relayed");
            return;
        }
        turnPassword = "";
        if (c.turnServers().length > 0) {
            // TurnValidator refuses an edit without these; a file gone since is logged, and hole punching runs without TURN.
            try {
                turnPassword = java.nio.file.Files.readString(java.nio.file.Path.of(c.turnPasswordFile())).trim();
            } catch (IOException | RuntimeException e) {
                LOG.error("TURN servers unused: cannot read ice.turnPasswordFile '{}': {}", c.turnPasswordFile(), e.toString());
            }
        }
        ScheduledExecutorService loop = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "ice");
            t.setDaemon(true);
            // ice4j reads its defaults through Typesafe config, with the thread's context class loader.
            t.setContextClassLoader(IceAgent.class.getClassLoader());
            return t;
        });
        IceEngine.Timers timers = new IceEngine.Timers(Duration.ofMillis(20), Duration.ofMillis(c.checkTimeoutMillis()),
                Duration.ofMillis(c.consentIntervalMillis()), Duration.ofMillis(c.consentTimeoutMillis()),
                Duration.ofMillis(c.retryMinMillis()), Duration.ofMillis(c.retryMaxMillis()), Duration.ofSeconds(1), Duration.ofSeconds(20),
                Duration.ofSeconds(25));
        engine = new IceEngine(overlay.publicKey(), new IceEngine.Socket() {
            @Override
            public boolean send(InetSocketAddress to, ByteBuffer datagram) {
                DirectPathSocket s = socket;
                try {
                    return s != null && s.send(to, datagram);
                } catch (RuntimeException e) {
                    return false; // also while the interface is being re-created (its socket closed for a moment)
                }
            }

            @Override
            public int localPort() {
                DirectPathSocket s = socket;
                InetSocketAddress local = s == null ? null : s.localAddress();
                return local == null ? 0 : local.getPort();
            }
        }, (to, offer) -> signalling.send(to, IceOffer.TYPE, IceOffer.VERSION, offer), timers, this::hostAddresses, this::stunServers,
                () -> resolvedTurnServers, loop, pathMeters);
        engine.onOtherBasePacket((packet, via) -> {
            DirectPathSocket s = socket;
            if (s != null) {
                s.deliver(packet, via);
            }
        });
        engine.birthdayProbing(c.birthdayProbing());
        engine.onAddressesChanged((before, after) -> {
            io.cloudbridge.api.event.StateChangePublisher p = events;
            if (p != null) {
                p.publish(new io.cloudbridge.api.event.StateChangeEvent("network", "addresses", before.toString(), after.toString(),
                        "this node's own addresses changed", java.time.Instant.now()));
            }
        });
        resolver = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "ice-resolver");
            t.setDaemon(true);
            return t;
        });
        // The list is looked at five times a second (the home relay becomes known at registration,
        // and its responder is the first STUN server most nodes have); names are looked up again
        // when the list changes, and once a minute.
        resolver.scheduleWithFixedDelay(this::resolveStunServers, 0, 200, TimeUnit.MILLISECONDS);
        IceEngine started = engine;
        started.start();
        started.useMasque(masque);
        loop.scheduleWithFixedDelay(() -> {
            try {
                started.setPeers(directory.peers().stream().map(p -> p.key()).toList());
            } catch (RuntimeException e) {
                LOG.warn("reading the peer directory failed: {}", e.toString());
            }
        }, 0, 500, TimeUnit.MILLISECONDS);
    }

    @Deactivate
    void deactivate() {
        try {
            signalling.removeListener(this);
        } finally {
            stop();
        }
    }

    private void stop() {
        if (resolver != null) {
            resolver.shutdownNow();
        }
        if (engine != null) {
            engine.stop();
            engine = null;
        }
    }

    /**
     * The node's own addresses that may reach a peer, from the paths' one watch on the network
     * (interfaces up, not loopback, not link-local, not the overlay's interface): without the
     * overlay's own addresses and IPv6 site-local ones.
     */
    private List<InetAddress> hostAddresses() {
        if (!config.hostCandidates()) {
            return List.of();
        }
        DirectPathSocket s = socket;
        InetSocketAddress local = s == null ? null : s.localAddress();
        if (local == null) {
            // No socket for a moment (the paths' bundle or the interface being replaced): that is
            // no news of the network, and the last view stands; the candidates wait for a port.
            return lastHostAddresses;
        }
        InetAddress bound = local.getAddress();
        if (bound != null && !bound.isAnyLocalAddress()) {
            lastHostAddresses = List.of(bound);
            return lastHostAddresses;
        }
        List<InetAddress> out = new ArrayList<>();
        for (InetAddress a : s.localAddresses()) {
            if (a.isLoopbackAddress() || a.isLinkLocalAddress() || (a instanceof Inet6Address v6 && v6.isSiteLocalAddress())
                    || ownOverlay(a)) {
                continue;
            }
            out.add(a);
        }
        out.sort(java.util.Comparator.comparing(InetAddress::getHostAddress));
        lastHostAddresses = List.copyOf(out);
        return lastHostAddresses;
    }

    /** The host addresses at the last look with a socket. */
    private volatile List<InetAddress> lastHostAddresses = List.of();

    private boolean ownOverlay(InetAddress a) {
        for (IpPrefix p : overlay.addresses()) {
            if (p.address().equals(a)) {
                return true;
            }
        }
        return false;
    }

    private List<InetSocketAddress> stunServers() {
        return resolvedStunServers;
    }

    private List<String> resolvedNames = List.of();
    private long resolvedAtNanos;
    private boolean resolvedOnce;

    private void resolveStunServers() {
        List<String> names = NetCheck.servers(config, home);
        if (resolvedOnce && names.equals(resolvedNames) && System.nanoTime() - resolvedAtNanos < TimeUnit.MINUTES.toNanos(1)) {
            return;
        }
        resolvedNames = names;
        resolvedAtNanos = System.nanoTime();
        resolvedOnce = true;
        resolvedStunServers = resolve(names, "STUN");
        resolvedTurnServers = turnPassword.isEmpty() ? List.of() : resolveTurn().stream()
                .map(a -> new IceEngine.TurnServer(a, config.turnUsername(), turnPassword)).toList();
    }

    /** The TURN servers' addresses last used, by name: an allocation is not given up for a lookup. */
    private final java.util.Map<String, InetSocketAddress> turnAddresses = new java.util.HashMap<>();

    /**
     * The TURN servers' addresses: a name that does not resolve now keeps its last address, and one
     * that still resolves to its last address (among others: round-robin DNS) keeps it, so that a
     * lookup never moves an allocation (and the paths through it) for nothing.
     */
    private List<InetSocketAddress> resolveTurn() {
        List<InetSocketAddress> out = new ArrayList<>();
        for (String name : config.turnServers()) {
            String hostPort = name.startsWith("turn:") ? name.substring(5) : name;
            InetSocketAddress last = turnAddresses.get(name);
            try {
                org.ice4j.TransportAddress a = NetCheck.parse(hostPort);
                InetSocketAddress now = a.getAddress() == null || a.isUnresolved() ? null : new InetSocketAddress(a.getAddress(), a.getPort());
                if (last != null && (now == null || (!now.equals(last) && stillResolvesTo(a.getHostString(), last)))) {
                    now = last;
                }
                if (now != null) {
                    turnAddresses.put(name, now);
                    out.add(now);
                } else {
                    LOG.debug("TURN server '{}' does not resolve", name);
                }
            } catch (IllegalArgumentException e) {
                LOG.debug("TURN server '{}' skipped: {}", name, e.getMessage());
            }
        }
        return List.copyOf(out);
    }

    private static boolean stillResolvesTo(String host, InetSocketAddress last) {
        try {
            return java.util.Arrays.asList(java.net.InetAddress.getAllByName(host)).contains(last.getAddress());
        } catch (java.net.UnknownHostException e) {
            return true; // no answer now: keep what worked
        }
    }

    private static List<InetSocketAddress> resolve(List<String> names, String what) {
        List<InetSocketAddress> out = new ArrayList<>();
        for (String s : names) {
            try {
                org.ice4j.TransportAddress a = NetCheck.parse(s.startsWith("turn:") ? s.substring(5) : s);
                if (a.getAddress() == null || a.isUnresolved()) {
                    LOG.debug("{} server '{}' does not resolve", what, s);
                    continue;
                }
                out.add(new InetSocketAddress(a.getAddress(), a.getPort()));
            } catch (IllegalArgumentException e) {
                LOG.debug("{} server '{}' skipped: {}", what, s, e.getMessage());
            }
        }
        return List.copyOf(out);
    }

    @Override
    public Optional<DirectPath> pathTo(NodeKey peer) {
        IceEngine e = engine;
        return e == null ? Optional.empty() : e.directPath(peer);
    }

    @Override
    public Optional<PathInfo> info(NodeKey peer) {
        IceEngine e = engine;
        if (e == null) {
            return Optional.of(new PathInfo(PathKind.RELAY, Optional.empty(), Optional.empty(),
                    Optional.of("policy: direct paths are off (ice.directPaths)")));
        }
        return e.info(peer);
    }

    @Override
    public boolean claims(ByteBuffer datagram) {
        return engine != null && (IceWire.isStun(datagram) || IceWire.isChannelData(datagram));
    }

    @Override
    public void receive(InetSocketAddress from, ByteBuffer datagram) {
        IceEngine e = engine;
        if (e != null) {
            e.onDatagram(from, datagram);
        }
    }

    @Override
    public void onSignal(NodeKey from, String type, int version, byte[] payload) {
        IceEngine e = engine;
        if (e != null && IceOffer.TYPE.equals(type)) {
            if (version != IceOffer.VERSION) {
                LOG.debug("an {} of version {} from {}: this node reads version {} only", type, version, from, IceOffer.VERSION);
                return;
            }
            e.onOffer(from, payload);
        }
    }

    @Override
    public void signallingConnected() {
        IceEngine e = engine;
        if (e != null) {
            e.resendUnansweredOffers();
        }
    }

    /** For ice:status: where hole punching stands, and what it dropped. */
    String status() {
        IceEngine e = engine;
        if (e == null) {
            return "direct paths are off (ice.directPaths: false)\n";
        }
        StringBuilder out = new StringBuilder(e.gatherState() + "\n");
        e.turnStates().forEach(t -> out.append(t).append('\n'));
        io.cloudbridge.api.tunnel.MasquePath m = masque;
        if (m != null) {
            out.append("MASQUE path through ").append(m.proxy()).append(": ").append(e.masqueStates()).append('\n');
        }
        e.drops().forEach((k, v) -> out.append(String.format("  dropped: %-32s %d%n", k, v)));
        return out.toString();
    }
}
