package io.cloudbridge.wireguard.internal.component;

import io.cloudbridge.api.net.IpPrefix;
import io.cloudbridge.api.mesh.PathKind;
import io.cloudbridge.api.mesh.PathManager;
import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.api.overlay.DatagramClaimer;
import io.cloudbridge.api.overlay.EncryptedPacketInbound;
import io.cloudbridge.api.overlay.OverlayDevice;
import io.cloudbridge.api.overlay.OverlaySocket;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;
import io.cloudbridge.boot.RuntimeProperties;
import io.cloudbridge.tun.internal.LinuxTun;
import io.cloudbridge.wireguard.internal.device.IcmpEcho;
import io.cloudbridge.wireguard.internal.device.Peer;
import io.cloudbridge.wireguard.internal.device.OverlayMtu;
import io.cloudbridge.wireguard.internal.device.TunPump;
import io.cloudbridge.wireguard.internal.device.TunSink;
import io.cloudbridge.wireguard.internal.device.UapiServer;
import io.cloudbridge.wireguard.internal.device.WireGuardDevice;
import io.cloudbridge.wireguard.internal.noise.Identity;
import io.cloudbridge.wireguard.internal.noise.NoiseCrypto;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.channels.DatagramChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.InvalidKeyException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Modified;
import org.osgi.service.metatype.annotations.Designate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node's WireGuard interface as a service: the engine, its UDP socket, a TUN device (or the
 * userspace stand-in), the peers from the {@code wireguard} section, and the UAPI socket. A change
 * to the section re-creates the interface (sessions start over); the peers' paths come later from
 * the path manager without touching sessions.
 */
@Component(service = {OverlayDevice.class, OverlaySocket.class, EncryptedPacketInbound.class, io.cloudbridge.api.overlay.OverlayPeers.class,
        WireGuardService.class},
        configurationPid = "cloudbridge.wireguard", immediate = true)
@Designate(ocd = WireGuardConfig.class)
public final class WireGuardService implements OverlayDevice, OverlaySocket, EncryptedPacketInbound,
        io.cloudbridge.api.overlay.OverlayPeers {
    private static final Logger LOG = LoggerFactory.getLogger(WireGuardService.class);
    /** The ICMP identifier of cb:ping's echo requests, so their replies are taken here. */
    private static final int PING_ID = 0xcb01;

    private WireGuardConfig config;
    private WireGuardDevice device;
    private LinuxTun tun;
    private volatile TunSink tunSink;
    private UapiServer uapi;
    private final List<InetAddress> ownAddresses = new ArrayList<>();
    private final List<IpPrefix> ownPrefixes = new ArrayList<>();
    private final Map<Integer, CompletableFuture<Long>> pings = new ConcurrentHashMap<>();
    private final AtomicInteger pingSequence = new AtomicInteger();
    private final List<DatagramClaimer> claimers = new java.util.concurrent.CopyOnWriteArrayList<>();
    /** The control plane's part of the membership (its address, the network map's peers), beside the section's. */
    private List<io.cloudbridge.api.overlay.OverlayAddress> controlAddresses = List.of();
    private List<PeerSpec> controlPeers = List.of();
    private BundleContext context;
    /**
     * The keys this interface had before its latest changes (newest last, a few at most): the
     * control plane proves with the one its token names that it is the node rotating its key.
     */
    private final java.util.Deque<io.cloudbridge.wireguard.internal.noise.Identity> formerIdentities = new java.util.ArrayDeque<>();
    /** The TUN device's MTU now; it shrinks to what the relay path carries (see followPathLimit). */
    private volatile int tunMtu;
    private java.util.concurrent.ScheduledExecutorService mtuWatch;
    private int tooSmallLimitWarned;

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

    /** The path manager, when one is installed; without it every peer goes over this socket. */
    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    private volatile PathManager pathManager;

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC)
    synchronized void addClaimer(DatagramClaimer claimer) {
        claimers.add(claimer);
        if (device != null) {
            device.addClaimer(claimer);
        }
    }

    synchronized void removeClaimer(DatagramClaimer claimer) {
        claimers.remove(claimer);
        if (device != null) {
            device.removeClaimer(claimer);
        }
    }

    @Activate
    void activate(BundleContext ctx, WireGuardConfig c) throws IOException, InvalidKeyException {
        this.config = c;
        this.context = ctx;
        String home = ctx.getProperty(RuntimeProperties.HOME);
        Path keyFile = (home == null ? Path.of("") : Path.of(home)).resolve(c.privateKeyFile());
        Identity identity = new Identity(privateKey(keyFile, c.interfaceName()));
        for (String a : addresses(c)) {
            int slash = a.indexOf('/');
            ownAddresses.add(InetAddress.getByName(slash < 0 ? a : a.substring(0, slash)));
            ownPrefixes.add(IpPrefix.parse(slash < 0 ? a : a.substring(0, slash)));
        }
        DatagramChannel channel = DatagramChannel.open()
                .bind(new InetSocketAddress(InetAddress.getByName(c.listenAddress()), c.listenPort()));
        device = new WireGuardDevice(identity, channel, new WireGuardDevice.PacketSink() {
            @Override
            public void deliver(Peer peer, byte[] packet, int length) {
                WireGuardService.this.deliver(peer, packet, length);
            }

            @Override
            public void flush() {
                TunSink sink = tunSink;
                if (sink != null) {
                    try {
                        sink.flush();
                    } catch (IOException e) {
                        LOG.debug("TUN write failed: {}", e.toString());
                    }
                }
            }
        }, Clock.systemUTC());
        if (c.cryptoThreads() > 0) {
            device.setCryptoThreads(c.cryptoThreads());
        }
        synchronized (this) {
            claimers.forEach(device::addClaimer);
        }
        device.setPathSelector(peer -> {
            PathManager pm = pathManager;
            return pm == null ? null : pm.pathFor(NodeKey.of(peer.publicKey())).orElse(null);
        });
        List<IpPrefix> routes = new ArrayList<>();
        for (PeerSpec spec : peers(c)) {
            Peer peer = addPeer(spec);
            if (peer != null) {
                peer.setPersistentKeepalive(spec.keepalive());
                routes.addAll(spec.allowedIps());
            }
        }
        try {
            if (!c.userspace()) {
                int mtu = c.mtu() > 0 ? c.mtu() : OverlayMtu.derive(device.peers().stream().map(Peer::endpoint).toList());
                tunMtu = mtu;
                tun = TunPump.open(c.interfaceName(), mtu, addresses(c), routes, c.offload());
                tunSink = new TunSink(tun);
                LOG.info("TUN device {} up: MTU {}{}, segmentation offload {}", c.interfaceName(), mtu,
                        c.mtu() > 0 ? "" : " (derived from the path)", tun.offload() ? "on" : "off");
                TunPump.start(tun, device);
                if (c.mtu() == 0) {
                    int derived = tunMtu;
                    mtuWatch = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
                        Thread t = new Thread(r, "wireguard-mtu-" + c.interfaceName());
                        t.setDaemon(true);
                        return t;
                    });
                    mtuWatch.scheduleWithFixedDelay(() -> followPathLimit(derived), 1, 1, java.util.concurrent.TimeUnit.SECONDS);
                }
            }
            device.start();
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

    /** Reads the private key, or creates one readable by its owner only. */
    /**
     * The interface's private key: from its file when there is one (an existing installation keeps
     * its key where it is); else from the OS keyring when the credentials bundle offers one, made
     * there on first start; else from the file, made on first start.
     */
    private byte[] privateKey(Path file, String interfaceName) throws IOException {
        io.cloudbridge.api.auth.CredentialStore store = credentials;
        if (Files.exists(file) || store == null || "file".equals(store.backend())) {
            return loadOrCreateKey(file);
        }
        String account = "wireguard-private-key/" + interfaceName;
        java.util.Optional<String> kept = store.read("cloudbridge", account);
        if (kept.isPresent()) {
            byte[] key = Base64.getDecoder().decode(kept.get().trim());
            if (key.length != 32) {
                throw new IOException("the " + store.backend() + " entry " + account + " does not hold a 32-byte key");
            }
            return key;
        }
        byte[] key = NoiseCrypto.generateKeyPair()[0];
        store.write("cloudbridge", account, Base64.getEncoder().encodeToString(key));
        LOG.info("a new private key for {} is kept in {}", interfaceName, store.backend());
        return key;
    }

    static byte[] loadOrCreateKey(Path file) throws IOException {
        if (Files.exists(file)) {
            byte[] key = Base64.getDecoder().decode(Files.readString(file, StandardCharsets.US_ASCII).trim());
            if (key.length != 32) {
                throw new IOException(file + " does not hold a 32-byte Base64 key");
            }
            return key;
        }
        byte[] key = NoiseCrypto.generateKeyPair()[0];
        io.cloudbridge.boot.config.SecretFiles.writeOwnerOnly(file, Base64.getEncoder().encodeToString(key) + "\n");
        return key;
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
            ownAddresses.clear();
            ownPrefixes.clear();
            activate(ctx, c);
            NodeKey after = NodeKey.of(device.identity().publicKey());
            if (before != null && !before.equals(after)) {
                formerIdentities.addLast(previousIdentity);
                while (formerIdentities.size() > 4) {
                    formerIdentities.removeFirst();
                }
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
        applyPeers(peers(c));
    }

    /**
     * Adds a peer, or leaves it out (null) when its key is one no handshake can use (a low-order
     * point): one bad key in the network map must not keep this node from every other peer.
     */
    private Peer addPeer(PeerSpec spec) {
        try {
            return device.addPeer(spec.publicKey().toBytes(), null, spec.allowedIps(), spec.endpoint());
        } catch (InvalidKeyException e) {
            LOG.warn("peer {} left out: {}", spec.publicKey(), e.getMessage());
            return null;
        }
    }

    /** Makes the device's peers exactly {@code wanted}: those that stay keep their sessions. */
    private void applyPeers(List<PeerSpec> wanted) throws IOException, InvalidKeyException {
        java.util.Set<NodeKey> keep = new java.util.HashSet<>();
        wanted.forEach(w -> keep.add(w.publicKey()));
        for (Peer p : device.peers()) {
            if (!keep.contains(NodeKey.of(p.publicKey()))) {
                device.removePeer(p.publicKey());
                if (tun != null) {
                    for (IpPrefix r : p.allowedIps()) {
                        try {
                            tun.removeRoute(r.toString());
                        } catch (IOException gone) {
                            LOG.debug("route {} was already gone: {}", r, gone.toString());
                        }
                    }
                }
            }
        }
        for (PeerSpec spec : wanted) {
            Peer peer = device.peer(spec.publicKey().toBytes());
            if (peer == null) {
                peer = addPeer(spec);
                if (peer == null) {
                    continue;
                }
            } else {
                device.replaceAllowedIps(peer, spec.allowedIps());
                if (spec.endpoint() != null) {
                    peer.setEndpoint(spec.endpoint());
                }
            }
            peer.setPersistentKeepalive(spec.keepalive());
            if (tun != null) {
                for (IpPrefix r : spec.allowedIps()) {
                    tun.addRoute(r.toString());
                }
            }
        }
        LOG.info("WireGuard peers of {} updated in place: {} peers", config.interfaceName(), wanted.size());
    }

    /** The section's addresses, then the control plane's. */
    private synchronized List<String> addresses(WireGuardConfig c) {
        List<String> out = new ArrayList<>(List.of(c.addresses()));
        for (io.cloudbridge.api.overlay.OverlayAddress a : controlAddresses) {
            if (!out.contains(a.toString())) {
                out.add(a.toString());
            }
        }
        return out;
    }

    /** The section's peers, then the control plane's (the section wins for a key named in both). */
    private synchronized List<PeerSpec> peers(WireGuardConfig c) {
        List<PeerSpec> out = new ArrayList<>();
        java.util.Set<NodeKey> configured = new java.util.HashSet<>();
        for (String entry : c.peers()) {
            PeerSpec spec = PeerSpec.parse(entry);
            out.add(spec);
            configured.add(spec.publicKey());
        }
        for (PeerSpec p : controlPeers) {
            if (!configured.contains(p.publicKey())) { // a peer configured by hand wins over the map's
                out.add(p);
            }
        }
        return out;
    }

    @Override
    public synchronized void apply(List<io.cloudbridge.api.overlay.OverlayAddress> nodeAddresses, List<io.cloudbridge.api.overlay.OverlayPeer> peers) {
        List<PeerSpec> specs = new ArrayList<>();
        for (io.cloudbridge.api.overlay.OverlayPeer p : peers) {
            // A keepalive every 25 s keeps the relay's and any NAT's state of the path warm.
            specs.add(new PeerSpec(p.key(), p.endpoint().orElse(null), p.allowedIps(), Duration.ofSeconds(25)));
        }
        boolean readdress;
        synchronized (this) {
            readdress = !controlAddresses.equals(List.copyOf(nodeAddresses));
            controlAddresses = List.copyOf(nodeAddresses);
            controlPeers = List.copyOf(specs);
        }
        try {
            if (deactivated) {
                return; // the component is gone; its successor gets the membership from the control plane
            }
            if (readdress && device != null) {
                // A new address is a new interface (rare: the first registration, a changed lease).
                LOG.info("overlay addresses of {} now {}: re-creating the interface", config.interfaceName(), addresses(config));
                closeInterface();
                ownAddresses.clear();
                ownPrefixes.clear();
                activate(context, config);
            } else if (device != null) {
                applyPeers(peers(config));
            }
        } catch (IOException | InvalidKeyException e) {
            throw new IllegalStateException("applying the control plane's overlay membership failed: " + e.getMessage(), e);
        }
    }


    /**
     * A derived MTU leaves room for what the paths carry: a relay's QUIC datagram holds less than a
     * 1,500-byte link, and a WireGuard packet too large for its path is lost whole (TCP would stall
     * on it). The paths' limit is the smallest each transport last had, so the MTU does not swing
     * with moves between transports; it rises once when QUIC's path MTU discovery finds more room.
     */
    private void followPathLimit(int derived) {
        PathManager pm = pathManager;
        LinuxTun device = tun;
        if (pm == null || device == null) {
            return;
        }
        java.util.OptionalInt limit = pm.packetLimit();
        if (limit.isEmpty()) {
            return;
        }
        // A transport message is the packet padded to a multiple of 16, plus WireGuard's 16-byte
        // header and 16-byte tag: an MTU that is a multiple of 16 pads to no more than itself.
        int wanted = Math.min(derived, (limit.getAsInt() - 32) & ~15);
        if (wanted < OverlayMtu.MINIMUM) {
            if (limit.getAsInt() != tooSmallLimitWarned) { // once per limit: this runs every second
                tooSmallLimitWarned = limit.getAsInt();
                LOG.warn("the relay path carries WireGuard packets of {} bytes only: the overlay MTU stays at the minimum {}, "
                        + "and larger packets are lost on the way", limit.getAsInt(), OverlayMtu.MINIMUM);
            }
            wanted = OverlayMtu.MINIMUM;
        }
        if (wanted != tunMtu) {
            try {
                device.setMtu(wanted);
                LOG.info("overlay MTU of {} now {}: its paths carry WireGuard packets of at most {} bytes", device.name(), wanted,
                        limit.getAsInt());
                tunMtu = wanted;
            } catch (IOException e) {
                LOG.warn("cannot set the MTU of {} to {}: {}", device.name(), wanted, e.toString());
            }
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
        if (mtuWatch != null) {
            mtuWatch.shutdownNow();
            mtuWatch = null;
        }
        try {
            if (uapi != null) {
                uapi.close();
            }
            if (device != null) {
                device.close();
            }
        } catch (IOException e) {
            LOG.warn("closing the WireGuard interface: {}", e.toString());
        }
        if (tun != null) {
            tun.close(); // removes the interface and its routes
            tun = null;
            tunSink = null;
        }
        pings.values().forEach(f -> f.cancel(false));
    }

    /** Decrypted packets: cb:ping's replies are taken here; the rest go to the TUN device or the userspace stack. */
    private void deliver(Peer peer, byte[] packet, int length) {
        if (IcmpEcho.isReply(packet, length) && IcmpEcho.id(packet) == PING_ID) {
            CompletableFuture<Long> f = pings.remove(IcmpEcho.sequence(packet));
            if (f != null) {
                f.complete(System.nanoTime());
            }
            return;
        }
        TunSink sink = tunSink;
        if (sink != null) {
            try {
                sink.deliver(packet, length);
            } catch (IOException e) {
                LOG.debug("TUN write failed: {}", e.toString());
            }
        } else if (IcmpEcho.isRequest(packet, length)
                && ownAddresses.contains(io.cloudbridge.wireguard.internal.device.IpPackets.destination(packet, length))) {
            device.send(IcmpEcho.replyTo(packet, length));
        }
    }

    /** An ICMP echo through the tunnel; the round-trip time, or empty on timeout. */
    public Optional<Duration> ping(InetAddress target, Duration timeout) throws IOException {
        Inet4Address source = ownAddresses.stream().filter(a -> a instanceof Inet4Address).map(a -> (Inet4Address) a)
                .findFirst().orElseThrow(() -> new IOException("this interface has no IPv4 overlay address"));
        if (!(target instanceof Inet4Address v4)) {
            throw new IOException("cb:ping speaks IPv4 for now");
        }
        int seq = pingSequence.incrementAndGet() & 0xffff;
        CompletableFuture<Long> reply = new CompletableFuture<>();
        pings.put(seq, reply);
        long sent = System.nanoTime();
        device.send(IcmpEcho.request(source, v4, PING_ID, seq, "cloudbridge".getBytes(StandardCharsets.US_ASCII)));
        try {
            return Optional.of(Duration.ofNanos(reply.get(timeout.toMillis(), TimeUnit.MILLISECONDS) - sent));
        } catch (TimeoutException e) {
            return Optional.empty();
        } catch (ExecutionException | java.util.concurrent.CancellationException e) {
            return Optional.empty();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.empty();
        } finally {
            pings.remove(seq);
        }
    }

    public WireGuardDevice device() {
        return device;
    }

    /** The path a peer's packets take now, in words: the path manager's answer, else this socket. */
    public String pathOf(Peer peer) {
        PathManager pm = pathManager;
        if (pm == null) {
            return "direct (UDP)";
        }
        return pm.info(NodeKey.of(peer.publicKey())).map(info -> info.kind().name().toLowerCase(java.util.Locale.ROOT)
                + info.rtt().map(r -> ", rtt " + r.toMillis() + " ms").orElse("")
                + info.relayedReason().map(r -> ", relayed because " + r).orElse("")).orElse("direct (UDP)");
    }

    /** The path towards an overlay address: that of the peer whose allowed IPs hold it. */
    public String pathTo(InetAddress target) {
        for (Peer p : device.peers()) {
            for (IpPrefix prefix : p.allowedIps()) {
                if (prefix.contains(target)) {
                    return pathOf(p);
                }
            }
        }
        return "none";
    }

    @Override
    public InetSocketAddress localAddress() {
        return new InetSocketAddress(config.listenAddress(), device.listenPort());
    }

    @Override
    public void send(InetSocketAddress to, java.nio.ByteBuffer datagram) throws IOException {
        device.sendRaw(to, datagram);
    }

    /** Handshakes waiting for their retry go out now: a path has come up (see {@link HandshakeOnNewPath}). */
    void retryPendingHandshakes() {
        WireGuardDevice d = device;
        if (d != null) {
            d.retryPendingHandshakes();
        }
    }

    @Override
    public void receive(java.nio.ByteBuffer packet, PathKind via) {
        byte[] copy = new byte[packet.remaining()];
        packet.get(copy);
        device.receiveEncrypted(copy, copy.length);
    }

    @Override
    public io.cloudbridge.api.net.NodeKey publicKey() {
        return io.cloudbridge.api.net.NodeKey.of(device.identity().publicKey());
    }

    @Override
    public synchronized java.util.Optional<byte[]> proveKey(NodeKey key, NodeKey verifierKey, byte[] message) {
        List<io.cloudbridge.wireguard.internal.noise.Identity> known = new ArrayList<>(formerIdentities);
        if (device != null) {
            known.add(device.identity());
        }
        for (io.cloudbridge.wireguard.internal.noise.Identity identity : known) {
            if (java.util.Arrays.equals(identity.publicKey(), key.toBytes())) {
                byte[] privateKey = identity.privateKeyForExport();
                byte[] shared = null;
                try {
                    shared = io.cloudbridge.wireguard.internal.noise.NoiseCrypto.dh(privateKey, verifierKey.toBytes());
                    return java.util.Optional.of(io.cloudbridge.api.overlay.KeyRotationProof.mac(shared, key, verifierKey, message));
                } catch (java.security.GeneralSecurityException e) {
                    LOG.warn("cannot prove key {} to {}: {}", key, verifierKey, e.toString());
                    return java.util.Optional.empty();
                } finally {
                    java.util.Arrays.fill(privateKey, (byte) 0);
                    if (shared != null) {
                        java.util.Arrays.fill(shared, (byte) 0);
                    }
                }
            }
        }
        return java.util.Optional.empty();
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
        int now = tunMtu;
        return now > 0 ? now : config.mtu();
    }

    @Override
    public List<IpPrefix> addresses() {
        return List.copyOf(ownPrefixes);
    }

    @Override
    public List<IpPrefix> routes() {
        List<IpPrefix> out = new ArrayList<>();
        device.peers().forEach(p -> out.addAll(p.allowedIps()));
        return out;
    }
}
