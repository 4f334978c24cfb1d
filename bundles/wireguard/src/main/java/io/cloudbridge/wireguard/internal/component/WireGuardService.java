package io.cloudbridge.wireguard.internal.component;

import io.cloudbridge.api.net.IpPrefix;
import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.api.overlay.OverlayDevice;
import io.cloudbridge.api.path.PathBinding;
import io.cloudbridge.api.path.PeerPaths;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;
import io.cloudbridge.api.tun.TunDevice;
import io.cloudbridge.api.tun.TunDevices;
import io.cloudbridge.wireguard.internal.device.IcmpEcho;
import io.cloudbridge.wireguard.internal.device.NoPaths;
import io.cloudbridge.wireguard.internal.device.Peer;
import io.cloudbridge.wireguard.internal.device.OverlayMtu;
import io.cloudbridge.wireguard.internal.device.TunPump;
import io.cloudbridge.wireguard.internal.device.UapiServer;
import io.cloudbridge.wireguard.internal.device.WireGuardDevice;
import io.cloudbridge.wireguard.internal.noise.Identity;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.security.InvalidKeyException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Modified;
import org.osgi.service.metatype.annotations.Designate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node's WireGuard interface as a service: the engine, a TUN device (or the userspace
 * stand-in), the peers from the {@code wireguard} section, and the UAPI socket. The engine's
 * messages go through the one binding the paths give it (their bundle holds the UDP socket, hole
 * punching and the relay). A change to the section re-creates the interface (sessions start over);
 * the paths can come, go and be replaced without touching sessions.
 */
@Component(service = {OverlayDevice.class, io.cloudbridge.api.overlay.OverlayPeers.class, WireGuardService.class},
        configurationPid = "cloudbridge.wireguard", immediate = true)
@Designate(ocd = WireGuardConfig.class)
public final class WireGuardService implements OverlayDevice, io.cloudbridge.api.overlay.OverlayPeers {
    private static final Logger LOG = LoggerFactory.getLogger(WireGuardService.class);

    private WireGuardConfig config;
    private WireGuardDevice device;
    /** The TUN device, or null (userspace); read per delivered packet. */
    private volatile TunDevice tun;
    private UapiServer uapi;
    /** The addresses the interface holds now (the device's, in TUN mode): what the next change is made against. */
    private List<String> deviceAddresses = List.of();
    /** The interface's own addresses (replaced whole: the packet path reads them unlocked). */
    private volatile List<InetAddress> ownAddresses = List.of();
    private volatile List<IpPrefix> ownPrefixes = List.of();
    private final OverlayPings pings = new OverlayPings();
    private final LinkQuality linkQuality = new LinkQuality();
    private final PeerMeters peerMeters = new PeerMeters(linkQuality, this::pathKind, 100);
    /** The device the receive path answers probes on: written before the device starts, read per packet. */
    private volatile WireGuardDevice liveDevice;
    /** Sends the link probes each {@code probeIntervalSeconds}; null while off. */
    private java.util.concurrent.ScheduledExecutorService prober;
    private int probeInterval = -1;
    private final Membership membership = new Membership();
    /** Where configured paths start, and how the key file is written. */
    @org.osgi.service.component.annotations.Reference
    private io.cloudbridge.api.runtime.RuntimeEnvironment environment;
    private final KeyRotationProver keyProofs = new KeyRotationProver();
    private final TunMtu tunMtu = new TunMtu(() -> this.paths, () -> this.tun);

    /**
     * The platform's TUN devices. Mandatory even in userspace mode, on purpose: this bundle also
     * holds the engines of a relay's CONNECT-IP gateways ({@code EmbeddedEngines}), and a relay
     * installs no TUN devices, so there this component (a node's interface) stays unsatisfied and
     * never opens a socket or a device. A node's overlay feature always brings them.
     */
    @Reference
    private TunDevices tunDevices;

    /**
     * The OS keyring, when the credentials bundle runs: new keys are kept there. Static and greedy:
     * a store that arrives later re-creates the interface, which then reads its key from it.
     */
    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policyOption = ReferencePolicyOption.GREEDY)
    private io.cloudbridge.api.auth.CredentialStore credentials;

    /** Where a change of this interface's key is announced: the control plane registers the new key at once. */
    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    private volatile io.cloudbridge.api.event.StateChangePublisher events;

    /**
     * The tenant's access policy on what the overlay brings this node. Dynamic, so that replacing
     * its bundle keeps the tunnel; while there is none, nothing is let in ({@link #FAIL_CLOSED}):
     * a node of a tenant with a policy must never fall open because a bundle went away.
     */
    private volatile io.cloudbridge.api.policy.PacketFilter packetFilter;

    /** What the engine enforces while no filter runs: no inbound packet, nothing to remember of outbound ones. */
    static final io.cloudbridge.api.policy.PacketFilter FAIL_CLOSED = new io.cloudbridge.api.policy.PacketFilter() {
        @Override
        public boolean admitInbound(byte[] packet, int offset, int length) {
            return false;
        }

        @Override
        public boolean noteOutbound(byte[] packet, int offset, int length) {
            return true; // the peers' filters decide what they let in
        }
    };

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    synchronized void bindPacketFilter(io.cloudbridge.api.policy.PacketFilter f) {
        packetFilter = f;
        if (device != null) {
            device.filter(f);
        }
    }

    synchronized void unbindPacketFilter(io.cloudbridge.api.policy.PacketFilter f) {
        if (packetFilter != f) {
            return;
        }
        packetFilter = null;
        if (device != null) {
            device.filter(FAIL_CLOSED);
        }
    }

    /**
     * The paths: the UDP socket, hole punching, the relay. Dynamic, so that replacing their bundle
     * while traffic flows moves the engine to the new binding and keeps every session; meanwhile
     * the engine has none and its messages are counted as "no paths".
     */
    private volatile PeerPaths paths;

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    synchronized void bindPaths(PeerPaths p) {
        boolean replacing = paths != null && paths != p;
        paths = p;
        if (device != null && !deactivated) {
            if (replacing) {
                // DS binds a replacement before it unbinds the last: free the port first.
                device.rebind(new NoPaths());
            }
            device.rebind(openBinding(p, config));
        }
    }

    synchronized void unbindPaths(PeerPaths p) {
        if (paths != p) {
            return;
        }
        paths = null;
        if (device != null) {
            device.rebind(new NoPaths());
        }
    }

    /** The paths' binding for this interface's socket, or none (counted) when they cannot bind it now. */
    private PathBinding openBinding(PeerPaths p, WireGuardConfig c) {
        if (p == null) {
            return new NoPaths();
        }
        try {
            return p.bind(new InetSocketAddress(InetAddress.getByName(c.listenAddress()), c.listenPort()), c.interfaceName());
        } catch (IOException e) {
            LOG.error("the overlay's UDP socket {}:{} cannot be bound: {}; the interface has no paths", c.listenAddress(),
                    c.listenPort(), e.toString());
            return new NoPaths();
        }
    }

    @Activate
    void activate(BundleContext ctx, WireGuardConfig c) throws IOException, InvalidKeyException {
        this.config = c;
        Path keyFile = c.privateKeyFile().isBlank() ? InterfaceKeys.defaultKeyFile(environment)
                : environment.configuredPath(c.privateKeyFile());
        Identity identity = new Identity(InterfaceKeys.privateKey(keyFile, c.interfaceName(), credentials, environment));
        deviceAddresses = membership.addresses(c);
        takeOwnAddresses(deviceAddresses);
        WireGuardDevice.PacketSink sink = new WireGuardDevice.PacketSink() {
            @Override
            public void deliver(Peer peer, byte[] packet, int length) {
                WireGuardService.this.deliver(peer, packet, length);
            }

            @Override
            public boolean answerBeforePolicy(Peer peer, byte[] packet, int length) {
                WireGuardDevice d = liveDevice;
                return d != null && linkQuality.answer(d, peer, packet, length, ownAddresses);
            }

            @Override
            public void flush() {
                TunDevice tunDevice = tun;
                if (tunDevice != null) {
                    try {
                        tunDevice.flush();
                    } catch (IOException e) {
                        LOG.debug("TUN write failed: {}", e.toString());
                    }
                }
            }
        };
        // Under this component's lock from the binding to the device: a change of the paths meanwhile
        // (bindPaths, unbindPaths) then finds the device and moves it.
        synchronized (this) {
            device = new WireGuardDevice(identity, openBinding(paths, c), sink, Clock.systemUTC());
            liveDevice = device;
            io.cloudbridge.api.policy.PacketFilter f = packetFilter;
            device.filter(f == null ? FAIL_CLOSED : f);
        }
        try {
            if (c.cryptoThreads() > 0) {
                device.setCryptoThreads(c.cryptoThreads());
            }
            List<IpPrefix> routes = new ArrayList<>();
            for (PeerSpec spec : membership.peers(c)) {
                Peer peer = PeerReconciler.addPeer(device, spec);
                if (peer != null) {
                    peer.setPersistentKeepalive(spec.keepalive());
                    routes.addAll(spec.allowedIps());
                }
            }
            if (!c.userspace()) {
                int mtu = c.mtu() > 0 ? c.mtu() : OverlayMtu.derive(device.peers().stream().map(Peer::endpoint).toList());
                tunMtu.set(mtu);
                tun = tunDevices.open(c.interfaceName(), mtu, membership.addresses(c), routes, c.offload());
                LOG.info("TUN device {} up: MTU {}{}, segmentation offload {}", c.interfaceName(), mtu,
                        c.mtu() > 0 ? "" : " (derived from the path)", tun.offload() ? "on" : "off");
                TunPump.start(tun, device);
                if (c.mtu() == 0) {
                    tunMtu.followPaths(c.interfaceName());
                }
            }
            device.start();
            probeEvery(c.probeIntervalSeconds());
            peerMeters.limit(c.peerMetricsLimit());
            if (!c.uapiDirectory().isBlank()) {
                try {
                    uapi = new UapiServer(device, Path.of(c.uapiDirectory()), c.interfaceName());
                } catch (IOException e) {
                    LOG.warn("no UAPI socket in {} ({}); 'wg' cannot see this interface", c.uapiDirectory(), e.toString());
                }
            }
        } catch (IOException | RuntimeException e) {
            closeInterface();
            throw e;
        }
        LOG.info("WireGuard interface {} up ({}), public key {}, UDP port {}, {} peers", c.interfaceName(),
                c.userspace() ? "userspace" : "TUN", Base64.getEncoder().encodeToString(identity.publicKey()),
                device.listenPort(), device.peers().size());
    }

    /**
     * A new {@code wireguard} section. When only the peers changed (the common case: the network
     * map adds and removes nodes) they are changed in place and every other session keeps running;
     * anything else about the interface re-creates it.
     */
    @Modified
    synchronized void modified(BundleContext ctx, WireGuardConfig c) throws IOException, InvalidKeyException {
        WireGuardConfig old = config;
        boolean onlyPeers = old.interfaceName().equals(c.interfaceName()) && old.privateKeyFile().equals(c.privateKeyFile())
                && old.listenAddress().equals(c.listenAddress()) && old.listenPort() == c.listenPort()
                && java.util.Arrays.equals(old.addresses(), c.addresses()) && old.mtu() == c.mtu()
                && old.userspace() == c.userspace() && old.uapiDirectory().equals(c.uapiDirectory())
                && old.offload() == c.offload() && old.cryptoThreads() == c.cryptoThreads();
        if (!onlyPeers) {
            io.cloudbridge.wireguard.internal.noise.Identity previousIdentity = device == null ? null : device.identity();
            NodeKey before = previousIdentity == null ? null : NodeKey.of(previousIdentity.publicKey());
            closeInterface();
            activate(ctx, c);
            NodeKey after = NodeKey.of(device.identity().publicKey());
            if (before != null && !before.equals(after)) {
                keyProofs.retire(previousIdentity);
            }
            io.cloudbridge.api.event.StateChangePublisher p = events;
            if (before != null && !before.equals(after) && p != null) {
                // The service stays registered across the change: nothing else would tell whoever
                // registered the old key (the control plane) before its next heartbeat.
                p.publish(new io.cloudbridge.api.event.StateChangeEvent("overlay", "key", before.toBase64(), after.toBase64(),
                        "the interface's key changed (wireguard.privateKeyFile)", java.time.Instant.now()));
            }
            return;
        }
        config = c;
        probeEvery(c.probeIntervalSeconds());
        peerMeters.limit(c.peerMetricsLimit());
        PeerReconciler.applyPeers(device, tun, membership.peers(c), config.interfaceName());
    }

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    void bindMeterRegistry(io.micrometer.core.instrument.MeterRegistry registry) {
        peerMeters.bind(registry);
    }

    void unbindMeterRegistry(io.micrometer.core.instrument.MeterRegistry registry) {
        peerMeters.unbind(registry);
    }

    /** How often the per-peer meters follow the peers while the probes are off. */
    private static final int METER_ROUND_SECONDS = 5;

    /**
     * (Re)starts the rounds at a new probe interval: each round probes the peers (unless the
     * interval is 0) and brings the per-peer meters up to date with the peers.
     */
    private void probeEvery(int seconds) {
        if (seconds == probeInterval && prober != null) {
            return;
        }
        stopProbes();
        probeInterval = seconds;
        int every = seconds > 0 ? seconds : METER_ROUND_SECONDS;
        prober = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "cloudbridge-link-probes");
            t.setDaemon(true);
            return t;
        });
        prober.scheduleWithFixedDelay(() -> round(seconds > 0), 0, every, java.util.concurrent.TimeUnit.SECONDS);
    }

    private void round(boolean probing) {
        try {
            WireGuardDevice d = liveDevice;
            if (d == null) {
                return;
            }
            if (probing) {
                List<java.net.Inet4Address> sources = ownAddresses.stream().filter(a -> a instanceof java.net.Inet4Address)
                        .map(a -> (java.net.Inet4Address) a).toList();
                linkQuality.probe(d, sources);
            } else {
                linkQuality.forgetAll();
            }
            peerMeters.reconcile(d.peers());
        } catch (RuntimeException e) {
            LOG.warn("a round of link probes failed: {}", e.toString()); // the next round tries again
        }
    }

    private void stopProbes() {
        if (prober != null) {
            prober.shutdownNow();
            prober = null;
        }
        probeInterval = -1;
    }

    /** The kind of path a peer's packets take now, as the per-peer metrics name it. */
    private String pathKind(Peer peer) {
        PeerPaths p = paths;
        if (p == null) {
            return "none";
        }
        return p.info(NodeKey.of(peer.publicKey())).map(i -> i.kind().name().toLowerCase(java.util.Locale.ROOT))
                .orElse(peer.endpoint() != null ? "direct" : "none");
    }

    @Override
    public synchronized void apply(List<io.cloudbridge.api.overlay.OverlayAddress> nodeAddresses, List<io.cloudbridge.api.overlay.OverlayPeer> peers) {
        membership.controlPlane(nodeAddresses, peers);
        try {
            if (deactivated) {
                return; // the component is gone; its successor gets the membership from the control plane
            }
            if (device == null) {
                return; // activation takes the membership as it is then
            }
            List<String> wanted = membership.addresses(config);
            if (!wanted.equals(deviceAddresses)) { // a new lease; or one that failed to apply last time, again
                readdress(deviceAddresses, wanted);
            }
            PeerReconciler.applyPeers(device, tun, membership.peers(config), config.interfaceName());
        } catch (IOException | InvalidKeyException e) {
            throw new IllegalStateException("applying the control plane's overlay membership failed: " + e.getMessage(), e);
        }
    }

    /**
     * Under this component's lock, and for good: the control plane's {@link #apply} re-creates the
     * interface under the same lock, and once raced this deactivation (an update of the
     * credentials bundle while a new lease came in). It opened a TUN device after the deactivation
     * had closed the old one, on a component no longer active: the device stayed open with nobody
     * to close it, and the next instance's open failed for good (TUNSETIFF: EBUSY).
     */
    @Deactivate
    synchronized void deactivate() {
        deactivated = true;
        closeInterface();
    }

    private boolean deactivated;

    /** Closes the interface, its socket, UAPI and TUN device; the component may open them again. */
    private void closeInterface() {
        tunMtu.stop();
        stopProbes();
        liveDevice = null;
        // Its peers go with it: no series left for them, nor figures (a new interface starts afresh).
        peerMeters.reconcile(List.of());
        linkQuality.forgetAll();
        try {
            if (uapi != null) {
                uapi.close();
            }
            if (device != null) {
                device.close(); // closes its binding, the socket, too
            }
        } catch (IOException e) {
            LOG.warn("closing the WireGuard interface: {}", e.toString());
        }
        if (tun != null) {
            tun.close(); // removes the interface and its routes
            tun = null;
        }
        pings.cancelAll();
    }

    /** Decrypted packets: cb:ping's replies are taken here; the rest go to the TUN device or the userspace stack. */
    private void deliver(Peer peer, byte[] packet, int length) {
        if (pings.takeReply(packet, length)) {
            return;
        }
        TunDevice tunDevice = tun;
        if (tunDevice != null) {
            try {
                tunDevice.write(packet, length);
            } catch (IOException e) {
                LOG.debug("TUN write failed: {}", e.toString());
            }
        } else if (IcmpEcho.isRequest(packet, length)
                && ownAddresses.contains(io.cloudbridge.wireguard.internal.device.IpPackets.destination(packet, length))) {
            device.send(IcmpEcho.replyTo(packet, length));
        }
    }

    /**
     * The control plane's new addresses (the first registration, a changed lease), on the open
     * device: its sessions, and the relayed path the first registration just opened, carry on.
     */
    private void readdress(List<String> before, List<String> after) throws IOException {
        LOG.info("overlay addresses of {} now {}", config.interfaceName(), after);
        List<String> applied = new ArrayList<>(before);
        TunDevice tunDevice = tun;
        if (tunDevice != null) {
            // The new ones first: the last IPv4 address of a device takes the device's IPv4 routes
            // (the peers') with it when it goes.
            for (String added : after) {
                if (!before.contains(added)) {
                    try {
                        tunDevice.addAddress(added);
                        applied.add(added);
                    } catch (IOException e) {
                        LOG.warn("{}: cannot add the overlay address {}: {}; tried again with the control plane's next update",
                                config.interfaceName(), added, e.getMessage());
                    }
                }
            }
            for (String gone : before) {
                if (!after.contains(gone)) {
                    try {
                        tunDevice.removeAddress(gone);
                        applied.remove(gone);
                    } catch (IOException e) {
                        LOG.warn("{}: cannot remove the old overlay address {}: {}", config.interfaceName(), gone, e.getMessage());
                    }
                }
            }
        } else {
            applied = new ArrayList<>(after);
        }
        deviceAddresses = List.copyOf(applied);
        takeOwnAddresses(deviceAddresses);
    }

    private void takeOwnAddresses(List<String> cidrs) throws java.net.UnknownHostException {
        List<InetAddress> addresses = new ArrayList<>();
        List<IpPrefix> prefixes = new ArrayList<>();
        for (String a : cidrs) {
            int slash = a.indexOf('/');
            addresses.add(InetAddress.getByName(slash < 0 ? a : a.substring(0, slash)));
            prefixes.add(IpPrefix.parse(slash < 0 ? a : a.substring(0, slash)));
        }
        ownAddresses = List.copyOf(addresses);
        ownPrefixes = List.copyOf(prefixes);
    }

    /** An ICMP echo through the tunnel; the round-trip time, or empty on timeout. */
    public Optional<Duration> ping(InetAddress target, Duration timeout) throws IOException {
        return pings.ping(device, ownAddresses, target, timeout);
    }

    public WireGuardDevice device() {
        return device;
    }

    /** The path a peer's packets take now, in words: the paths' answer, else the socket to the peer's endpoint. */
    public String pathOf(Peer peer) {
        return PathDescriptions.pathOf(paths, peer);
    }

    /** The link probes' figures for a peer, in words, for {@code wg:show}. */
    public String linkOf(Peer peer) {
        return linkQuality.link(peer).map(l -> String.format(java.util.Locale.ROOT, "rtt %.2f ms, jitter %.2f ms, loss %.0f%%",
                l.rttSeconds() * 1e3, l.jitterSeconds() * 1e3, l.lossRatio() * 100)).orElse("(no probe yet)");
    }

    /** The path towards an overlay address: that of the peer whose allowed IPs hold it. */
    public String pathTo(InetAddress target) {
        return PathDescriptions.pathTo(paths, device.peers(), target);
    }

    /** Handshakes waiting for their retry go out now: a path has come up (see {@link HandshakeOnNewPath}). */
    void retryPendingHandshakes() {
        WireGuardDevice d = device;
        if (d != null) {
            d.retryPendingHandshakes();
        }
    }

    @Override
    public io.cloudbridge.api.net.NodeKey publicKey() {
        return io.cloudbridge.api.net.NodeKey.of(device.identity().publicKey());
    }

    @Override
    public synchronized java.util.Optional<byte[]> proveKey(NodeKey key, NodeKey verifierKey, byte[] message) {
        return keyProofs.proveKey(device == null ? null : device.identity(), key, verifierKey, message);
    }

    @Override
    public String name() {
        return config.interfaceName();
    }

    @Override
    public boolean userspace() {
        return tun == null;
    }

    @Override
    public int mtu() {
        int now = tunMtu.current();
        return now > 0 ? now : config.mtu();
    }

    @Override
    public List<IpPrefix> addresses() {
        return ownPrefixes;
    }

    @Override
    public List<IpPrefix> routes() {
        List<IpPrefix> out = new ArrayList<>();
        device.peers().forEach(p -> out.addAll(p.allowedIps()));
        return out;
    }
}
