package io.cloudbridge.ice.internal;

import io.cloudbridge.api.mesh.NatTraversal;
import io.cloudbridge.api.mesh.PathInfo;
import io.cloudbridge.api.mesh.PathKind;
import io.cloudbridge.api.mesh.PeerDirectory;
import io.cloudbridge.api.mesh.PeerPath;
import io.cloudbridge.api.mesh.SignalListener;
import io.cloudbridge.api.mesh.Signalling;
import io.cloudbridge.api.net.IpPrefix;
import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.api.overlay.DatagramClaimer;
import io.cloudbridge.api.overlay.OverlayDevice;
import io.cloudbridge.api.overlay.OverlaySocket;
import io.cloudbridge.api.transport.HomeRelay;
import java.io.IOException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
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
 * Hole punching as a service: claims the STUN datagrams on the overlay's socket, hears offers on
 * the signalling stream, keeps an {@link IceEngine} session per peer of the directory, and tells
 * the path manager which peers have a confirmed direct path. A new configuration restarts it (the
 * peers are relayed meanwhile, for a moment).
 */
@Component(service = IceAgent.class,
        configurationPid = "cloudbridge.ice", immediate = true)
public final class IceAgent implements NatTraversal, DatagramClaimer, SignalListener {
    private static final Logger LOG = LoggerFactory.getLogger(IceAgent.class);

    @Reference
    private OverlaySocket overlaySocket;

    @Reference
    private OverlayDevice overlay;

    /** Where WireGuard's packets that come through a TURN allocation go: the same component as the socket. */
    @Reference
    private io.cloudbridge.api.overlay.EncryptedPacketInbound overlayInbound;

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

    private IceConfig config;
    private volatile IceEngine engine;
    /** The STUN servers, resolved off the engine's thread (a slow DNS must not stall consent checks). */
    private volatile List<InetSocketAddress> resolvedStunServers = List.of();
    private volatile List<IceEngine.TurnServer> resolvedTurnServers = List.of();
    private String turnPassword = "";
    private java.util.concurrent.ScheduledExecutorService resolver;

    /**
     * NatTraversal, the claimer and the signal listener are registered by hand once the agent is
     * active: the overlay, the control client and the path manager take them dynamically, and this
     * agent needs the first two (the path manager is needed by the overlay). Had SCR registered
     * them with the component, such a binding could ask for this agent while SCR was still
     * activating it for the other's sake: a service factory cycle ("ServiceFactory.getService()
     * resulted in a cycle"), after which the claimer stayed unbound and no STUN answer reached
     * hole punching (seen in the NAT lab, a few tries in twenty).
     */
    private org.osgi.framework.ServiceRegistration<?> inputs;

    @Activate
    void activate(org.osgi.framework.BundleContext context, IceConfig c) {
        start(c);
        inputs = context.registerService(new String[] {NatTraversal.class.getName(), DatagramClaimer.class.getName(),
                SignalListener.class.getName()}, this, null);
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
                try {
                    overlaySocket.send(to, datagram);
                    return true;
                } catch (IOException | RuntimeException e) {
                    return false; // also while the interface is being re-created (its socket closed for a moment)
                }
            }

            @Override
            public int localPort() {
                return overlaySocket.localAddress().getPort();
            }
        }, (to, offer) -> signalling.send(to, IceOffer.TYPE, IceOffer.VERSION, offer), timers, this::hostAddresses, this::stunServers,
                () -> resolvedTurnServers, loop);
        engine.onOtherBasePacket(overlayInbound::receive);
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
        if (inputs != null) {
            try {
                inputs.unregister();
            } catch (IllegalStateException alreadyGone) {
                // the bundle is stopping
            }
            inputs = null;
        }
        if (resolver != null) {
            resolver.shutdownNow();
        }
        if (engine != null) {
            engine.stop();
            engine = null;
        }
    }

    /**
     * The node's own addresses that may reach a peer: up, not loopback, not the overlay's own
     * interface or addresses, no IPv6 link-local (it needs a scope a peer cannot know).
     */
    private List<InetAddress> hostAddresses() {
        if (!config.hostCandidates()) {
            return List.of();
        }
        InetAddress bound = overlaySocket.localAddress().getAddress();
        if (bound != null && !bound.isAnyLocalAddress()) {
            return List.of(bound);
        }
        List<InetAddress> out = new ArrayList<>();
        try {
            for (NetworkInterface nif : Collections.list(NetworkInterface.getNetworkInterfaces())) {
                if (!nif.isUp() || nif.isLoopback() || nif.getName().equals(overlay.name())) {
                    continue;
                }
                for (InetAddress a : Collections.list(nif.getInetAddresses())) {
                    if (a.isLoopbackAddress() || a.isLinkLocalAddress() || (a instanceof Inet6Address v6 && v6.isSiteLocalAddress())
                            || ownOverlay(a)) {
                        continue;
                    }
                    out.add(a);
                }
            }
        } catch (SocketException e) {
            LOG.warn("cannot list this node's addresses: {}", e.toString());
        }
        out.sort(java.util.Comparator.comparing(InetAddress::getHostAddress));
        return out;
    }

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
    public Optional<PeerPath> directPath(NodeKey peer) {
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
