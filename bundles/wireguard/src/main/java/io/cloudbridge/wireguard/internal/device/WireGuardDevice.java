package io.cloudbridge.wireguard.internal.device;

import io.cloudbridge.api.net.IpPrefix;
import io.cloudbridge.wireguard.internal.noise.Handshake;
import io.cloudbridge.wireguard.internal.noise.Identity;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import io.cloudbridge.api.path.PathBinding;
import java.security.InvalidKeyException;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A WireGuard interface in userspace: one static identity, its peers, and one {@link PathBinding}
 * through which every message leaves and arrives (the engine knows no socket, relay or hole
 * punching: the binding chooses the way for each peer). It performs
 * handshakes on demand, encrypts what it is given for the peer whose allowed IPs hold the
 * destination, and hands decrypted packets whose source the sending peer is allowed to use to a
 * {@link PacketSink}. Every packet it refuses is counted by reason; nothing from the network can
 * throw out of the receive loop.
 *
 * <p>This class holds the peers, their routing table and the drop counters, and is the engine's
 * one entry point; the protocol's roles are classes of their own, as wireguard-go splits its
 * device package: {@link Outbound} (send), {@link Inbound} (receive), {@link Handshakes},
 * {@link HandshakeRateLimiter} (MACs, cookies, budgets), {@link TimerLoop} and {@link IndexTable}.
 */
public final class WireGuardDevice implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(WireGuardDevice.class);

    /**
     * Where decrypted packets go: the TUN device, or the userspace stack. The array is the receive
     * path's own and is reused for the next packet: copy what must outlive the call.
     */
    public interface PacketSink {
        void deliver(Peer peer, byte[] packet, int length);

        /**
         * The end of a batch: write out whatever {@link #deliver} held back (packets joined for the
         * kernel). Called on the thread that delivered.
         */
        default void flush() {
        }

        /**
         * Packets the daemon answers itself, whatever the tenant's policy says: the overlay's link
         * probes. Asked about every authenticated packet from {@code peer} (cryptokey routing already
         * checked, counted in the peer's figures) before the policy filter; true when taken.
         */
        default boolean answerBeforePolicy(Peer peer, byte[] packet, int length) {
            return false;
        }
    }

    private final Identity identity;
    /** The way out and in; replaced (sessions kept) when the paths' bundle is. */
    private volatile PathBinding paths;
    /**
     * The node's access-policy filter: asked about every decrypted packet before the sink, told of
     * every packet sent. Null: none (a relay's gateway engine, whose gateway polices its clients;
     * the tests).
     */
    private volatile io.cloudbridge.api.policy.PacketFilter filter;
    private final PathBinding.Arrivals arrivals = new PathBinding.Arrivals() {
        @Override
        public void relayed(io.cloudbridge.api.net.NodeKey sender, ByteBuffer message) {
            byte[] copy = new byte[message.remaining()];
            message.duplicate().get(copy);
            inbound.receiveRelayed(sender.toBytes(), copy, copy.length);
        }

        @Override
        public void arrived(ByteBuffer message) {
            arrivedInBurst(message);
            burstEnd();
        }

        @Override
        public void arrivedInBurst(ByteBuffer message) {
            int length = message.remaining();
            byte[] copy = inbound.arrivalBuffer(length);
            message.duplicate().get(copy, 0, length);
            inbound.receiveEncryptedInBurst(copy, length);
        }

        @Override
        public void burstEnd() {
            inbound.burstEnd();
        }
    };
    private final List<Peer> peers = new CopyOnWriteArrayList<>();
    /** The same peers by public key: a handshake names its peer by key, and a mesh can be large. */
    private final Map<io.cloudbridge.api.net.NodeKey, Peer> peersByKey = new ConcurrentHashMap<>();
    /** Which peer each allowed prefix routes to; changed only under this device's lock. */
    private final AllowedIps routes = new AllowedIps();
    private final IndexTable indices = new IndexTable();
    private final Map<String, LongAdder> drops = new ConcurrentHashMap<>();
    /**
     * Threads that do a batch's crypto on each data path, the path's own thread included. One per
     * two cores by default: the two directions' I/O threads and the kernel's packet work already
     * keep two cores busy under load, and on a two-core machine helpers cost more (wake-ups,
     * waiting) than they save (docs/performance.md has the figures).
     */
    private volatile int cryptoThreads = defaultCryptoThreads();

    static int defaultCryptoThreads() {
        return Math.max(1, Runtime.getRuntime().availableProcessors() / 2);
    }

    private final Outbound outbound;
    private final Handshakes handshakes;
    private final HandshakeRateLimiter limiter;
    private final Inbound inbound;
    private final TimerLoop timerLoop;

    public WireGuardDevice(Identity identity, PathBinding paths, PacketSink sink, Clock clock) {
        this(identity, paths, sink, clock, 1000, Timers.STANDARD);
    }

    /**
     * @param handshakeLoadThreshold handshake messages per second beyond which the device is
     *                               "under load" and answers handshakes without a valid cookie
     *                               with a cookie reply instead of doing the Diffie-Hellman work
     */
    public WireGuardDevice(Identity identity, PathBinding paths, PacketSink sink, Clock clock,
            int handshakeLoadThreshold) {
        this(identity, paths, sink, clock, handshakeLoadThreshold, Timers.STANDARD);
    }

    public WireGuardDevice(Identity identity, PathBinding paths, PacketSink sink, Clock clock,
            int handshakeLoadThreshold, Timers timers) {
        this(identity, paths, sink, clock, handshakeLoadThreshold, timers, RelayedHandshakes.ownThread());
    }

    /** @param relayedHandshakeThread runs the Diffie-Hellman work of relayed handshakes (see {@link #receiveRelayed}) */
    WireGuardDevice(Identity identity, PathBinding paths, PacketSink sink, Clock clock,
            int handshakeLoadThreshold, Timers timers, java.util.concurrent.Executor relayedHandshakeThread) {
        this.identity = identity;
        this.paths = paths;
        this.outbound = new Outbound(this, clock, timers);
        this.handshakes = new Handshakes(this, identity, clock, timers, indices, outbound);
        this.limiter = new HandshakeRateLimiter(this, identity, clock, handshakeLoadThreshold, outbound,
                new RelayedHandshakes(handshakes::handleRelayed, relayedHandshakeThread));
        this.inbound = new Inbound(this, sink, clock, timers, indices, limiter, handshakes, outbound);
        this.timerLoop = new TimerLoop(this, clock, timers, indices, handshakes, outbound);
    }

    /**
     * Adds a peer. A key already present names that peer, as it does to {@code wg set}: the
     * prefixes are added to its own and a given endpoint replaces its endpoint (its pre-shared
     * key stays: {@link #setPresharedKey} changes that).
     */
    public synchronized Peer addPeer(byte[] publicKey, byte[] presharedKey, List<IpPrefix> allowedIps, InetSocketAddress endpoint)
            throws InvalidKeyException {
        Peer peer = peerByKey(publicKey);
        if (peer != null) {
            if (endpoint != null) {
                peer.setEndpoint(endpoint);
            }
        } else {
            peer = new Peer(new Handshake(identity, publicKey, presharedKey), publicKey, presharedKey, endpoint);
            peersByKey.put(io.cloudbridge.api.net.NodeKey.of(publicKey), peer);
            peers.add(peer);
        }
        for (IpPrefix prefix : allowedIps) {
            addAllowedIp(peer, prefix);
        }
        return peer;
    }

    /**
     * Gives a prefix to a peer, taking it from whichever peer had it: a prefix belongs to one peer,
     * so routing and the inbound source check agree.
     */
    public synchronized void addAllowedIp(Peer peer, IpPrefix prefix) {
        if (!present(peer)) {
            return; // removed meanwhile (found by a caller before it took this lock): it must not route again
        }
        Peer previous = routes.put(prefix, peer);
        if (previous != null && previous != peer) {
            previous.removeAllowedIp(prefix);
        }
        peer.addAllowedIp(prefix);
    }

    public synchronized void replaceAllowedIps(Peer peer, List<IpPrefix> prefixes) {
        if (!present(peer)) {
            return;
        }
        for (IpPrefix old : peer.allowedIps()) {
            routes.remove(old, peer);
        }
        peer.replaceAllowedIps(List.of());
        prefixes.forEach(p -> addAllowedIp(peer, p));
    }

    /** The peer an address routes to: the longest allowed prefix holding it across all peers. */
    Peer route(InetAddress address) {
        if (address == null) {
            return null;
        }
        byte[] a = address.getAddress();
        return route(a, 0, a.length);
    }

    /** The peer a packet's destination (or, for the inbound check, source) address routes to; null for no route or no IP packet. */
    Peer routePacket(byte[] packet, int length, boolean source) {
        int version = IpPackets.version(packet, length);
        if (version == 4) {
            return route(packet, source ? 12 : 16, 4);
        }
        if (version == 6) {
            return route(packet, source ? 8 : 24, 16);
        }
        return null;
    }

    private Peer route(byte[] bytes, int offset, int addressLength) {
        return routes.lookup(bytes, offset, addressLength);
    }

    /** Checks a would-be peer key (a low-order point is refused) without adding anything. */
    public void checkPeerKey(byte[] publicKey) throws InvalidKeyException {
        new Handshake(identity, publicKey, null);
    }

    /** The peer with this public key, or {@code null}. */
    public Peer peer(byte[] publicKey) {
        return peerByKey(publicKey);
    }

    /** Removes a peer and forgets its sessions. */
    public synchronized boolean removePeer(byte[] publicKey) {
        Peer peer = peerByKey(publicKey);
        if (peer == null) {
            return false;
        }
        for (IpPrefix prefix : peer.allowedIps()) {
            routes.remove(prefix, peer);
        }
        peersByKey.remove(io.cloudbridge.api.net.NodeKey.of(publicKey));
        peers.remove(peer);
        indices.removePeer(peer);
        peer.eraseKeys();
        return true;
    }

    /** Changes a peer's pre-shared key in place: its sessions and its replay protection stay. */
    public Peer setPresharedKey(Peer peer, byte[] presharedKey) {
        peer.handshake.setPresharedKey(presharedKey);
        peer.presharedKey = presharedKey.clone();
        return peer;
    }

    public Identity identity() {
        return identity;
    }

    /** The binding of the moment. */
    PathBinding paths() {
        return paths;
    }

    /**
     * Moves the engine to another binding (the paths' bundle was replaced): the sessions, their
     * keys and counters stay, the last binding is closed. What was on its way through it is lost,
     * as on any path change; the receive thread takes the new one at its next look.
     */
    public void rebind(PathBinding next) {
        if (closed) {
            next.close(); // a closed engine takes no binding: nothing would ever close it
            return;
        }
        next.start(arrivals); // before the receive thread can see it
        PathBinding previous;
        synchronized (this) {
            previous = paths;
            paths = next;
        }
        if (previous != next) {
            previous.close();
        }
        LOG.debug("engine moved to another path binding ({})", next.localAddress());
        if (!(next instanceof NoPaths)) {
            // Handshakes refused meanwhile ("no paths") go now, not at their 5 s retry.
            handshakes.retryPendingHandshakes();
        }
    }

    private volatile boolean closed;

    /** The UDP port this device's binding listens on. */
    public int listenPort() {
        InetSocketAddress local = paths.localAddress();
        return local == null ? 0 : local.getPort();
    }

    public List<Peer> peers() {
        return List.copyOf(peers);
    }

    /** The peers themselves, not a copy: the list is copy-on-write, so iterating it is safe and costs nothing. */
    List<Peer> livePeers() {
        return peers;
    }

    /** Puts a policy filter on the data path (null: none); takes effect with the next packet. */
    public void filter(io.cloudbridge.api.policy.PacketFilter f) {
        this.filter = f;
    }

    io.cloudbridge.api.policy.PacketFilter filter() {
        return filter;
    }

    /** How many threads do each data path's crypto (1: the I/O threads alone); takes effect at {@link #start}. */
    public void setCryptoThreads(int threads) {
        this.cryptoThreads = Math.max(1, threads);
    }

    int cryptoThreads() {
        return cryptoThreads;
    }

    /** An encrypted packet that arrived over another path (a relay session): routed by its index like any other. */
    public void receiveEncrypted(byte[] packet, int length) {
        inbound.receiveEncrypted(packet, length);
    }

    /**
     * A WireGuard message that arrived over a relay from {@code sender}: the public key of the node
     * the relay authenticated and forwarded it for. Transport messages and cookie replies are
     * handled at once, as {@link #receiveEncrypted} handles them. Handshake messages cost one to
     * four X25519 each, and the caller may be a relay's forwarding thread that other tenants'
     * traffic shares: here they only get the cheap checks (the sender is a peer, MAC1, the sender's
     * budget, and under load a cookie bound to the sender's key in MAC2, or a cookie reply), and
     * wait in a bounded queue for the device's handshake thread. Every message refused is counted.
     */
    public void receiveRelayed(byte[] sender, byte[] packet, int length) {
        inbound.receiveRelayed(sender, packet, length);
    }

    /** Relayed handshake messages waiting for the handshake thread, for tests. */
    int relayedHandshakesWaiting() {
        return limiter.relayedWaiting();
    }

    /** Dropped packets by reason, for {@code wg:show}, metrics and tests. */
    public Map<String, Long> drops() {
        Map<String, Long> out = new TreeMap<>();
        drops.forEach((k, v) -> out.put(k, v.sum()));
        return out;
    }

    void drop(String reason) {
        drops.computeIfAbsent(reason, k -> new LongAdder()).increment();
    }

    public void start() throws IOException {
        paths.start(arrivals);
        inbound.start();
        timerLoop.start();
    }

    @Override
    public void close() throws IOException {
        closed = true;
        inbound.stop();
        limiter.close();
        timerLoop.close();
        paths.close();
        inbound.awaitStop();
    }

    /** Sends an IP packet to the peer whose allowed IPs hold its destination (longest prefix). */
    public boolean send(byte[] packet) {
        return send(packet, packet.length);
    }

    /**
     * Sends {@code packet[0, length)}; the array may be reused by the caller afterwards (it is
     * copied only when the packet has to wait for a handshake).
     */
    public boolean send(byte[] packet, int length) {
        return outbound.send(packet, length);
    }

    /**
     * Sends a packet the daemon makes itself (a link probe, or its answer) to {@code peer} over the
     * session it has now, outside routing and the policy filter. Never waits for a handshake nor
     * starts one, now or later (it is not data for the session's timers): false when the peer has
     * no usable session, so that probing a peer does not keep its session up.
     */
    public boolean sendOnSession(Peer peer, byte[] packet) {
        return outbound.sendOnSession(peer, packet, packet.length);
    }

    /** A sender for batches of up to {@code capacity} packets, for one thread's use. */
    public Outbound.BatchSender newBatchSender(int capacity) {
        return outbound.new BatchSender(capacity);
    }

    /** Starts a handshake unless attempts are already under way (their retries are the timer's). */
    public void initiateIfDue(Peer peer) {
        initiateIfDue(peer, "asked for");
    }

    /** Starts a handshake unless attempts are already under way; {@code why} is logged (debug). */
    public void initiateIfDue(Peer peer, String why) {
        handshakes.initiateIfDue(peer, why);
    }

    /**
     * Sends at once the initiation each handshake under way would otherwise retry only at its next
     * rekey timeout: a new path to the peers has just come up (see {@link Handshakes#retryPendingHandshakes}).
     */
    public void retryPendingHandshakes() {
        handshakes.retryPendingHandshakes();
    }

    /** The number of live session indices (bounded by peers: bad input must not grow it). */
    public int indexCount() {
        return indices.size();
    }

    /** One received datagram, as the receive thread handles it ({@code from} null: it came over a relay). */
    void handle(byte[] bytes, int length, InetSocketAddress from) {
        inbound.handle(bytes, length, from);
    }

    /** Whether this very peer is still one of the device's (not removed, not replaced under its key). */
    private boolean present(Peer peer) {
        return peersByKey.get(io.cloudbridge.api.net.NodeKey.of(peer.publicKey)) == peer;
    }

    Peer peerByKey(byte[] publicKey) {
        // Public keys are not secret, so a hash lookup (not a constant-time comparison) is fine.
        return publicKey.length == 32 ? peersByKey.get(io.cloudbridge.api.net.NodeKey.of(publicKey)) : null;
    }
}
