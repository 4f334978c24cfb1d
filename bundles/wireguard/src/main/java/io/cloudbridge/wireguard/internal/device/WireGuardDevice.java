package io.cloudbridge.wireguard.internal.device;

import io.cloudbridge.api.net.IpPrefix;
import io.cloudbridge.wireguard.internal.noise.CookieChecker;
import io.cloudbridge.wireguard.internal.noise.Handshake;
import io.cloudbridge.wireguard.internal.noise.HandshakeException;
import io.cloudbridge.wireguard.internal.noise.Identity;
import io.cloudbridge.wireguard.internal.noise.Keypair;
import io.cloudbridge.wireguard.internal.noise.Messages;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.DatagramChannel;
import java.security.InvalidKeyException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.LongAdder;
import javax.crypto.AEADBadTagException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A WireGuard interface in userspace: one UDP socket, one static identity, its peers. It performs
 * handshakes on demand, encrypts what it is given for the peer whose allowed IPs hold the
 * destination, and hands decrypted packets whose source the sending peer is allowed to use to a
 * {@link PacketSink}. Every packet it refuses is counted by reason; nothing from the network can
 * throw out of the receive loop.
 *
 * <p>Timers (whitepaper section 6) run on one thread that looks at every peer each tick: handshake
 * retries with jitter until REKEY_ATTEMPT_TIME, rekey after REKEY_AFTER_TIME (sending) or before
 * REJECT_AFTER_TIME (receiving), passive and persistent keepalives, a new handshake when sent data
 * goes unanswered, and erasing every key after 3 x REJECT_AFTER_TIME.
 */
public final class WireGuardDevice implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(WireGuardDevice.class);
    private static final int MAX_PACKET = 65_535;

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
    }

    /** Datagrams the receive path takes from the socket before it decrypts them as one batch. */
    static final int RECEIVE_BATCH = 64;
    /** How long the receive thread waits for a datagram before it looks whether the device closed. */
    private static final int POLL_MILLIS = 200;
    /** A full socket send buffer is retried this many times, {@link #SEND_RETRY_NANOS} apart, before the datagram is dropped. */
    private static final int SEND_RETRIES = 200;
    private static final long SEND_RETRY_NANOS = 25_000;

    /**
     * The receive path's plaintext buffer. Only the thread that handles datagrams uses it; relayed
     * packets ({@link #receiveEncrypted}) come in on other threads and get their own.
     */
    private final ThreadLocal<byte[]> plaintextBuffers = ThreadLocal.withInitial(() -> new byte[MAX_PACKET]);
    private byte[] plaintextBuffer() {
        return plaintextBuffers.get();
    }

    private final Identity identity;
    private final CookieChecker cookies;
    private final DatagramChannel channel;
    private final PacketSink sink;
    private final Clock clock;
    private final List<Peer> peers = new CopyOnWriteArrayList<>();
    /** The same peers by public key: a handshake names its peer by key, and a mesh can be large. */
    private final Map<io.cloudbridge.api.net.NodeKey, Peer> peersByKey = new ConcurrentHashMap<>();
    /** Which peer each allowed prefix routes to; changed only under this device's lock. */
    private final AllowedIps routes = new AllowedIps();
    /** Session index to the peer and keypair (or pending handshake) it names. */
    private final Map<Integer, Peer> indices = new ConcurrentHashMap<>();
    private final Map<String, LongAdder> drops = new ConcurrentHashMap<>();
    private Thread receiver;
    private java.nio.channels.Selector selector;
    private volatile boolean running;
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
    /** Handshake messages per second above which a valid MAC2 (a cookie) is required. */
    private final int handshakeLoadThreshold;
    private long loadSecond;
    private int loadCount;

    private final Timers timers;
    /** Relayed handshake messages waiting for their Diffie-Hellman work, off the thread that handed them in. */
    private final RelayedHandshakes relayed;
    /** What all relayed senders together may have worked on (each has its own budget too). */
    private final HandshakeBudget relayedBudget = new HandshakeBudget(HandshakeBudget.DEVICE_PER_SECOND, HandshakeBudget.DEVICE_BURST);
    /** Other bundles' claims on non-WireGuard datagrams of this socket (STUN). */
    private final List<io.cloudbridge.api.overlay.DatagramClaimer> claimers = new CopyOnWriteArrayList<>();
    /**
     * Chooses each peer's path; {@code null} means this socket and the peer's endpoint. A direct
     * path from the path manager sends on this socket too, to the address hole punching confirmed.
     */
    private volatile java.util.function.Function<Peer, io.cloudbridge.api.mesh.PeerPath> pathSelector;
    /** How soon an initiation that no path took is tried again. */
    private static final java.time.Duration NO_PATH_RETRY = java.time.Duration.ofMillis(250);
    private static final java.time.Duration NO_PATH_RETRY_FOR = java.time.Duration.ofSeconds(3);
    /** After {@link #NO_PATH_RETRY_FOR}: still sooner than the rekey timeout, which would leave a late path idle 5 s. */
    private static final java.time.Duration NO_PATH_RETRY_LATER = java.time.Duration.ofSeconds(1);
    private java.util.concurrent.ScheduledExecutorService ticker;

    public WireGuardDevice(Identity identity, DatagramChannel channel, PacketSink sink, Clock clock) {
        this(identity, channel, sink, clock, 1000, Timers.STANDARD);
    }

    /**
     * @param handshakeLoadThreshold handshake messages per second beyond which the device is
     *                               "under load" and answers handshakes without a valid cookie
     *                               with a cookie reply instead of doing the Diffie-Hellman work
     */
    public WireGuardDevice(Identity identity, DatagramChannel channel, PacketSink sink, Clock clock,
            int handshakeLoadThreshold) {
        this(identity, channel, sink, clock, handshakeLoadThreshold, Timers.STANDARD);
    }

    public WireGuardDevice(Identity identity, DatagramChannel channel, PacketSink sink, Clock clock,
            int handshakeLoadThreshold, Timers timers) {
        this(identity, channel, sink, clock, handshakeLoadThreshold, timers, RelayedHandshakes.ownThread());
    }

    /** @param relayedHandshakeThread runs the Diffie-Hellman work of relayed handshakes (see {@link #receiveRelayed}) */
    WireGuardDevice(Identity identity, DatagramChannel channel, PacketSink sink, Clock clock,
            int handshakeLoadThreshold, Timers timers, java.util.concurrent.Executor relayedHandshakeThread) {
        this.relayed = new RelayedHandshakes(this::handleRelayed, relayedHandshakeThread);
        this.timers = timers;
        this.identity = identity;
        // Bursts arrive faster than one thread decrypts them: ask for deep socket buffers (the
        // kernel grants up to net.core.rmem_max / wmem_max).
        try {
            channel.setOption(java.net.StandardSocketOptions.SO_RCVBUF, 4 << 20);
            channel.setOption(java.net.StandardSocketOptions.SO_SNDBUF, 4 << 20);
        } catch (IOException | UnsupportedOperationException e) {
            LOG.debug("socket buffers left at their defaults: {}", e.toString());
        }
        this.cookies = new CookieChecker(identity);
        this.channel = channel;
        this.sink = sink;
        this.clock = clock;
        this.handshakeLoadThreshold = handshakeLoadThreshold;
    }

    /** Counts one handshake message; true when this second has seen more than the threshold. */
    private synchronized boolean underLoad(Instant now) {
        long second = now.getEpochSecond();
        if (second != loadSecond) {
            loadSecond = second;
            loadCount = 0;
        }
        return ++loadCount > handshakeLoadThreshold;
    }

    private static final int PER_SOURCE_HANDSHAKES_PER_SECOND = 20;
    private static final int RATE_TABLE_LIMIT = 8192;
    private final Map<InetAddress, int[]> perSource = new java.util.HashMap<>();
    private long perSourceSecond;

    /** A handshake budget per source address and second, used only under load; the table is bounded. */
    private synchronized boolean perSourceAllowance(InetAddress source, Instant now) {
        long second = now.getEpochSecond();
        if (second != perSourceSecond || perSource.size() >= RATE_TABLE_LIMIT) {
            perSource.clear();
            perSourceSecond = second;
        }
        int[] count = perSource.computeIfAbsent(source, a -> new int[1]);
        return ++count[0] <= PER_SOURCE_HANDSHAKES_PER_SECOND;
    }

    /** Address bytes then port, big-endian: what a cookie is bound to. */
    private static byte[] sourceBytes(InetSocketAddress from) {
        byte[] a = from.getAddress().getAddress();
        byte[] out = java.util.Arrays.copyOf(a, a.length + 2);
        out[a.length] = (byte) (from.getPort() >> 8);
        out[a.length + 1] = (byte) from.getPort();
        return out;
    }

    /**
     * The MAC checks every handshake message passes before any Diffie-Hellman work: MAC1 always;
     * under load also MAC2, and without a valid one the sender gets a cookie reply instead.
     */
    private boolean macsPass(byte[] msg, InetSocketAddress from, Instant now) {
        if (!cookies.checkMac1(msg)) {
            drop("bad mac1");
            return false;
        }
        if (from == null) {
            // Through a relay that does not say who sent it (a node's relay path: the relay
            // authenticated the sender's session and rate-limits it). A relay's own peer (a
            // CONNECT-IP gateway) is told the sender and budgets each one: see receiveRelayed.
            return true;
        }
        boolean loaded = underLoad(now);
        if (loaded && cookies.checkMac2(msg, sourceBytes(from), now) && !perSourceAllowance(from.getAddress(), now)) {
            // A valid cookie proves the address, not good manners: each address gets a few
            // handshakes a second while the device is under load.
            drop("under load: source over its rate");
            return false;
        }
        if (loaded && !cookies.checkMac2(msg, sourceBytes(from), now)) {
            drop("under load: cookie sent");
            try {
                sendDatagram(ByteBuffer.wrap(cookies.createReply(msg, sourceBytes(from), now)), from);
            } catch (IOException e) {
                drop("send failed");
            }
            return false;
        }
        return true;
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
    private Peer routePacket(byte[] packet, int length, boolean source) {
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
        indices.values().removeIf(p -> p == peer);
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

    /** The UDP port this device listens on. */
    public int listenPort() {
        try {
            return ((InetSocketAddress) channel.getLocalAddress()).getPort();
        } catch (IOException e) {
            return 0;
        }
    }

    public List<Peer> peers() {
        return List.copyOf(peers);
    }

    public void addClaimer(io.cloudbridge.api.overlay.DatagramClaimer claimer) {
        claimers.add(claimer);
    }

    public void removeClaimer(io.cloudbridge.api.overlay.DatagramClaimer claimer) {
        claimers.remove(claimer);
    }

    /** Sets who picks each peer's path (the path manager); the sessions do not change with the path. */
    public void setPathSelector(java.util.function.Function<Peer, io.cloudbridge.api.mesh.PeerPath> selector) {
        this.pathSelector = selector;
    }

    /** Sends a datagram that is not WireGuard's (a STUN answer) from this socket's 5-tuple. */
    public void sendRaw(InetSocketAddress to, ByteBuffer datagram) throws IOException {
        if (!sendDatagram(datagram, to)) {
            throw new IOException("the socket's send buffer stayed full");
        }
    }

    /**
     * Sends one datagram. Once started the socket is non-blocking (the receive thread drains it in
     * batches), so a full send buffer returns at once: wait briefly for the kernel to drain it, as a
     * blocking send would, and give up after about 5 ms.
     */
    private boolean sendDatagram(ByteBuffer datagram, InetSocketAddress to) throws IOException {
        for (int attempt = 0;; attempt++) {
            if (channel.send(datagram, to) > 0) {
                return true;
            }
            if (attempt == SEND_RETRIES) {
                return false;
            }
            java.util.concurrent.locks.LockSupport.parkNanos(SEND_RETRY_NANOS);
        }
    }

    /** How many threads do each data path's crypto (1: the I/O threads alone); takes effect at {@link #start}. */
    public void setCryptoThreads(int threads) {
        this.cryptoThreads = Math.max(1, threads);
    }

    /** An encrypted packet that arrived over another path (a relay session): routed by its index like any other. */
    public void receiveEncrypted(byte[] packet, int length) {
        try {
            handle(packet, length, null);
            sink.flush();
        } catch (RuntimeException e) {
            drop("internal error");
            LOG.warn("a relayed packet raised {}", e.toString());
        }
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
        int type = Messages.type(packet, length);
        if (type != Messages.INITIATION && type != Messages.RESPONSE) {
            receiveEncrypted(packet, length);
            return;
        }
        try {
            relayedHandshake(sender, java.util.Arrays.copyOf(packet, length));
        } catch (RuntimeException e) {
            drop("internal error");
            LOG.warn("a relayed handshake raised {}", e.toString());
        }
    }

    private void relayedHandshake(byte[] sender, byte[] msg) {
        // The sender's own peer entry holds its budget: the table is as large as the peer list,
        // and a node that is no peer has nothing to handshake about.
        Peer peer = peerByKey(sender);
        if (peer == null) {
            drop("relayed handshake: sender is no peer");
            return;
        }
        if (!cookies.checkMac1(msg)) {
            drop("bad mac1");
            return;
        }
        Instant now = clock.instant();
        if (!peer.relayedBudget.take(now)) {
            drop("relayed handshake: sender over its budget");
            return;
        }
        if (relayed.underLoad() && !cookies.checkMac2(msg, sender, now)) {
            // WireGuard's answer to load, with the relay's sender as the source the cookie is
            // bound to (a node's key, where UDP has an address and port): a WireGuard peer retries
            // with the cookie in MAC2, and no other node can use it.
            drop("relayed handshake under load: cookie sent");
            transmit(peer, cookies.createReply(msg, sender, now), 0);
            return;
        }
        if (!relayedBudget.take(now)) {
            drop("relayed handshake: all senders over their budget");
            return;
        }
        switch (relayed.offer(peer, msg)) {
            case QUEUED -> {
            }
            case SENDER_BUSY -> drop("relayed handshake: sender has " + RelayedHandshakes.PER_SENDER + " waiting");
            case FULL -> drop("relayed handshake: queue full");
            case CLOSED -> drop("closed");
        }
    }

    /** On the handshake thread: the Diffie-Hellman work of a relayed handshake message (MACs checked). */
    private void handleRelayed(RelayedHandshakes.Job job) {
        Instant now = clock.instant();
        byte[] msg = job.message();
        if (msg[0] == Messages.INITIATION) {
            consumeInitiation(msg, null, job.sender(), now);
        } else {
            consumeResponse(msg, null, job.sender(), now);
        }
    }

    /** Relayed handshake messages waiting for the handshake thread, for tests. */
    int relayedHandshakesWaiting() {
        return relayed.waiting();
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
        channel.configureBlocking(false);
        selector = java.nio.channels.Selector.open();
        channel.register(selector, java.nio.channels.SelectionKey.OP_READ);
        running = true;
        receiver = new Thread(this::receiveLoop, "wireguard-receive");
        receiver.setDaemon(true);
        receiver.start();
        ticker = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "wireguard-timers");
            t.setDaemon(true);
            return t;
        });
        long tick = timers.tick().toMillis();
        ticker.scheduleWithFixedDelay(this::tick, tick, tick, java.util.concurrent.TimeUnit.MILLISECONDS);
    }

    @Override
    public void close() throws IOException {
        running = false;
        relayed.close();
        if (ticker != null) {
            ticker.shutdownNow();
        }
        channel.close();
        if (receiver != null) {
            try {
                receiver.join(2000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (selector != null) {
            selector.close(); // completes the channel's close, which waits for its deregistration
        }
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
        Peer best = routePacket(packet, length, false);
        if (best == null) {
            drop("no route");
            return false;
        }
        return sendTo(best, packet, length);
    }

    private boolean sendTo(Peer peer, byte[] packet, int length) {
        Keypair keypair = peer.current;
        Instant now = clock.instant();
        if (keypair == null || !usable(keypair, now) || keypair.exhausted()) {
            enqueue(peer, packet, length);
            return true;
        }
        boolean sent = transmit(peer, ByteBuffer.wrap(keypair.seal(packet, length)), length);
        afterSend(peer, keypair, sent, now);
        return sent;
    }

    /** Holds a packet until a handshake gives its peer a usable session. */
    private void enqueue(Peer peer, byte[] packet, int length) {
        synchronized (peer.queue) {
            if (peer.queue.size() >= Peer.QUEUE_LIMIT) {
                peer.queue.pollFirst();
                drop("queue full");
            }
            peer.queue.addLast(java.util.Arrays.copyOf(packet, length));
        }
        initiateIfDue(peer, "a packet waits for a session");
    }

    private void afterSend(Peer peer, Keypair keypair, boolean sent, Instant now) {
        if (sent) {
            peer.txPackets.incrementAndGet();
            noteDataSent(peer, now);
        }
        // The initiator of a session renews it when it grows old or long (whitepaper 6.2).
        if (keypair.initiator() && (age(keypair, now).compareTo(timers.rekeyAfterTime()) >= 0
                || keypair.messagesSent() >= Timers.REKEY_AFTER_MESSAGES)) {
            initiateIfDue(peer, "the session is old: rekey");
        }
    }

    /**
     * A data path's sender for batches of packets (the TUN reader's): it routes every packet and
     * takes its counter in order, seals the batch on {@link #setCryptoThreads} threads into
     * messages it reuses, then sends them in the batch's order. One thread uses it.
     */
    public final class BatchSender implements AutoCloseable {
        private final CryptoWorkers workers;
        private final Peer[] peers;
        private final Keypair[] keypairs;
        private final long[] counters;
        private final byte[][] messages;
        private final ByteBuffer[] wrappers;
        private final int[] messageLengths;
        private io.cloudbridge.tun.internal.PacketBatch batch;
        private final java.util.function.IntConsumer sealTask = this::seal;

        BatchSender(int capacity) {
            workers = new CryptoWorkers("wireguard-encrypt", cryptoThreads);
            peers = new Peer[capacity];
            keypairs = new Keypair[capacity];
            counters = new long[capacity];
            messages = new byte[capacity][];
            wrappers = new ByteBuffer[capacity];
            messageLengths = new int[capacity];
            for (int i = 0; i < capacity; i++) {
                messages[i] = new byte[2048];
                wrappers[i] = ByteBuffer.wrap(messages[i]);
            }
        }

        /** Sends every packet of the batch (routing, queueing for a handshake, sealing, sending). */
        public void send(io.cloudbridge.tun.internal.PacketBatch packets) {
            Instant now = clock.instant();
            int n = packets.count();
            batch = packets;
            try {
                sendBatch(packets, n, now);
            } finally {
                // Nothing of this batch may be sealed or sent with the next one, whatever failed.
                java.util.Arrays.fill(keypairs, 0, n, null);
                java.util.Arrays.fill(peers, 0, n, null);
                batch = null;
            }
        }

        private void sendBatch(io.cloudbridge.tun.internal.PacketBatch packets, int n, Instant now) {
            for (int i = 0; i < n; i++) {
                keypairs[i] = null;
                peers[i] = null;
                byte[] packet = packets.slot(i);
                int length = packets.length(i);
                Peer peer = routePacket(packet, length, false);
                if (peer == null) {
                    drop("no route");
                    continue;
                }
                Keypair keypair = peer.current;
                if (keypair == null || !usable(keypair, now) || keypair.exhausted()) {
                    enqueue(peer, packet, length);
                    continue;
                }
                counters[i] = keypair.reserveCounter(); // in order: the messages leave in counter order
                int size = Keypair.sealedLength(length);
                if (messages[i].length < size) {
                    messages[i] = new byte[size];
                    wrappers[i] = ByteBuffer.wrap(messages[i]);
                }
                peers[i] = peer;
                keypairs[i] = keypair;
            }
            workers.forEach(n, sealTask);
            for (int i = 0; i < n; i++) {
                Keypair keypair = keypairs[i];
                if (keypair == null) {
                    continue;
                }
                Peer peer = peers[i];
                keypairs[i] = null;
                peers[i] = null;
                if (messageLengths[i] < 0) {
                    drop("internal error");
                    continue;
                }
                ByteBuffer message = wrappers[i];
                message.clear().limit(messageLengths[i]);
                afterSend(peer, keypair, transmit(peer, message, packets.length(i)), now);
            }
        }

        private void seal(int i) {
            Keypair keypair = keypairs[i];
            if (keypair != null) {
                try {
                    messageLengths[i] = keypair.seal(counters[i], batch.slot(i), batch.length(i), messages[i]);
                } catch (RuntimeException e) {
                    messageLengths[i] = -1; // counted and skipped when the batch is sent
                    LOG.warn("sealing a packet failed: {}", e.toString());
                }
            }
        }

        @Override
        public void close() {
            workers.close();
        }
    }

    /** A sender for batches of up to {@code capacity} packets, for one thread's use. */
    public BatchSender newBatchSender(int capacity) {
        return new BatchSender(capacity);
    }

    private boolean usable(Keypair keypair, Instant now) {
        return age(keypair, now).compareTo(timers.rejectAfterTime()) < 0;
    }

    private static Duration age(Keypair keypair, Instant now) {
        return Duration.between(keypair.created(), now);
    }

    private static void noteDataSent(Peer peer, Instant now) {
        peer.lastSent = now;
        peer.dataReceivedUnanswered = null;
        if (peer.dataSentUnanswered == null) {
            peer.dataSentUnanswered = now;
        }
    }

    private boolean transmit(Peer peer, byte[] message, int plainLength) {
        return transmit(peer, ByteBuffer.wrap(message), plainLength);
    }

    private boolean transmit(Peer peer, ByteBuffer message, int plainLength) {
        java.util.function.Function<Peer, io.cloudbridge.api.mesh.PeerPath> selector = pathSelector;
        io.cloudbridge.api.mesh.PeerPath path = selector == null ? null : selector.apply(peer);
        if (path != null) {
            if (path.send(message)) {
                peer.txBytes.addAndGet(plainLength);
                return true;
            }
            drop("path refused");
            return false;
        }
        InetSocketAddress to = peer.endpoint;
        if (to == null) {
            drop("no endpoint");
            return false;
        }
        try {
            if (!sendDatagram(message, to)) {
                drop("send buffer full");
                return false;
            }
            peer.txBytes.addAndGet(plainLength);
            return true;
        } catch (IOException e) {
            drop("send failed");
            return false;
        }
    }

    /** Starts a handshake unless attempts are already under way (their retries are the timer's). */
    public void initiateIfDue(Peer peer) {
        initiateIfDue(peer, "asked for");
    }

    /** Starts a handshake unless attempts are already under way; {@code why} is logged (debug). */
    public void initiateIfDue(Peer peer, String why) {
        Instant now = clock.instant();
        synchronized (peer) {
            if (peer.handshakeAttemptsSince != null) {
                return;
            }
            peer.handshakeAttemptsSince = now;
        }
        if (LOG.isDebugEnabled()) {
            LOG.debug("handshake with {} begins: {}", java.util.Base64.getEncoder().encodeToString(peer.publicKey()), why);
        }
        sendInitiation(peer, now);
    }

    /**
     * Sends at once the initiation each handshake under way would otherwise retry only at its next
     * rekey timeout (5 s): a new path to the peers has just come up. An initiation that no path
     * took is retried within 250 ms anyway (see {@link #NO_PATH_RETRY}); this is for one that a
     * path took and lost, a relay session that was dying or not yet through to the peer.
     */
    public void retryPendingHandshakes() {
        Instant now = clock.instant();
        for (Peer peer : peers) {
            boolean pending;
            synchronized (peer) {
                pending = peer.handshakeAttemptsSince != null
                        && Duration.between(peer.lastHandshakeSent, now).compareTo(MIN_NUDGE_SPACING) >= 0;
            }
            if (pending) {
                sendInitiation(peer, now);
            }
        }
    }

    /** A path flapping must not become a handshake flood: at most one nudged initiation per peer this often. */
    private static final Duration MIN_NUDGE_SPACING = Duration.ofMillis(200);

    private void sendInitiation(Peer peer, Instant now) {
        byte[] initiation;
        synchronized (peer) {
            peer.lastHandshakeSent = now;
            long jitter = java.util.concurrent.ThreadLocalRandom.current().nextLong(Timers.REKEY_TIMEOUT_JITTER.toNanos());
            peer.retryAt = now.plus(timers.rekeyTimeout()).plusNanos(jitter);
            if (peer.handshakeAttemptsSince == null) {
                peer.handshakeAttemptsSince = now;
            }
            int index = newIndex(peer);
            Integer replaced = peer.pendingIndex;
            if (replaced != null) {
                indices.remove(replaced); // a retry replaces the initiation it retries
            }
            peer.pendingIndex = index;
            initiation = peer.handshake.createInitiation(index, now);
        }
        if (transmit(peer, initiation, 0)) {
            peer.lastSent = now;
        } else {
            // No path took it (the relay session or a direct path is still coming up): try again
            // soon rather than after the rekey timeout, so the first packets do not wait 5 s for a
            // path that came up a moment later. Each quarter second for the first seconds, then
            // each second, so a peer without any path costs one initiation a second (not four)
            // for the 90 s of attempts. Nothing was sent, so no peer sees the extra initiations.
            synchronized (peer) {
                Instant since = peer.handshakeAttemptsSince;
                if (since != null) {
                    boolean early = java.time.Duration.between(since, now).compareTo(NO_PATH_RETRY_FOR) < 0;
                    peer.retryAt = now.plus(early ? NO_PATH_RETRY : NO_PATH_RETRY_LATER);
                }
            }
        }
    }

    /** A new session is in place: the handshake attempts are over. */
    /** Holds the peer's lock. */
    private static void sessionEstablished(Peer peer, Instant now) {
        peer.handshakeAttemptsSince = null;
        peer.retryAt = null;
        peer.lastNewSession = now;
        peer.lastHandshakeCompleted = now;
        peer.handshakesCompleted.incrementAndGet();
    }

    /** The timer state machine of whitepaper section 6, evaluated for every peer each tick. */
    private void tick() {
        Instant now = clock.instant();
        for (Peer peer : peers) {
            try {
                tick(peer, now);
            } catch (RuntimeException e) {
                LOG.warn("timer work for a peer failed: {}", e.toString());
            }
        }
    }

    private void tick(Peer peer, Instant now) {
        Instant retry = peer.retryAt;
        if (retry != null && !now.isBefore(retry)) {
            Instant since = peer.handshakeAttemptsSince;
            if (since == null) {
                peer.retryAt = null; // a session was established meanwhile
            } else if (Duration.between(since, now).compareTo(timers.rekeyAttemptTime()) >= 0) {
                // REKEY_ATTEMPT_TIME passed without a response: give up, and drop what waited.
                peer.handshakeAttemptsSince = null;
                peer.retryAt = null;
                Integer pending = peer.pendingIndex;
                if (pending != null) {
                    indices.remove(pending);
                    peer.pendingIndex = null;
                }
                synchronized (peer.queue) {
                    for (int i = peer.queue.size(); i > 0; i--) {
                        drop("handshake gave up");
                    }
                    peer.queue.clear();
                }
            } else {
                sendInitiation(peer, now);
            }
        }
        Keypair current = peer.current;
        Instant received = peer.dataReceivedUnanswered;
        if (received != null && current != null && usable(current, now)
                && Duration.between(received, now).compareTo(timers.keepaliveTimeout()) >= 0) {
            sendKeepalive(peer, current, now); // passive keepalive
        }
        Instant sent = peer.dataSentUnanswered;
        if (sent != null && Duration.between(sent, now).compareTo(timers.keepaliveTimeout().plus(timers.rekeyTimeout())) >= 0) {
            // Data went out and nothing came back: the session may be dead on the other side.
            peer.dataSentUnanswered = null;
            initiateIfDue(peer, "data sent and nothing came back: the session may be dead");
        }
        Duration persistent = peer.persistentKeepalive != null ? peer.persistentKeepalive : timers.persistentKeepalive();
        if (!persistent.isZero() && Duration.between(peer.lastSent, now).compareTo(persistent) >= 0) {
            if (current != null && usable(current, now)) {
                sendKeepalive(peer, current, now);
            } else {
                initiateIfDue(peer, "persistent keepalive without a usable session");
            }
        }
        Instant lastSession = peer.lastNewSession;
        if (lastSession != null && Duration.between(lastSession, now).compareTo(timers.zeroKeysAfter()) >= 0) {
            retire(peer.current);
            retire(peer.previous);
            retire(peer.next);
            peer.eraseKeys();
            peer.lastNewSession = null;
        }
    }

    private void sendKeepalive(Peer peer, Keypair keypair, Instant now) {
        peer.dataReceivedUnanswered = null;
        if (transmit(peer, keypair.seal(new byte[0]), 0)) {
            peer.lastSent = now;
        }
    }

    private int newIndex(Peer peer) {
        while (true) {
            int index = io.cloudbridge.wireguard.internal.noise.NoiseCrypto.randomIndex();
            if (indices.putIfAbsent(index, peer) == null) {
                return index;
            }
        }
    }

    private void receiveLoop() {
        ByteBuffer buffer = ByteBuffer.allocateDirect(MAX_PACKET);
        try (Inbound inbound = new Inbound()) {
            while (running) {
                InetSocketAddress from;
                try {
                    buffer.clear();
                    from = (InetSocketAddress) channel.receive(buffer);
                } catch (ClosedChannelException closed) {
                    return;
                } catch (IOException e) {
                    drop("receive failed");
                    continue;
                }
                if (from == null) {
                    // The socket is drained: decrypt and deliver what came, or wait for more.
                    if (inbound.count > 0) {
                        inbound.process();
                    } else {
                        awaitDatagram();
                    }
                    continue;
                }
                buffer.flip();
                inbound.add(buffer, from);
                if (inbound.count == RECEIVE_BATCH) {
                    inbound.process();
                }
            }
        }
    }

    private void awaitDatagram() {
        try {
            selector.select(POLL_MILLIS);
            selector.selectedKeys().clear();
        } catch (IOException | java.nio.channels.ClosedSelectorException e) {
            running = false;
        }
    }

    /** What the first step of a transport message found: its peer and keypair, or why it was refused. */
    private static final class OpenedTransport {
        Peer peer;
        Keypair keypair;
        int plainLength;
        String refusal;
    }

    /**
     * Step one of a transport message, safe on any thread: find its session and decrypt it into
     * {@code plain} (authenticating it and checking the replay window). False, with the reason in
     * {@code out.refusal}, when it is refused.
     */
    private boolean openTransport(byte[] msg, int length, byte[] plain, Instant now, OpenedTransport out) {
        out.peer = null;
        out.keypair = null;
        int index = Messages.receiverIndex(msg);
        Peer peer = indices.get(index);
        Keypair keypair = peer == null ? null : keypairFor(peer, index);
        if (keypair == null) {
            out.refusal = "unknown index";
            return false;
        }
        if (!usable(keypair, now)) {
            out.refusal = "expired session";
            return false;
        }
        try {
            out.plainLength = keypair.open(msg, length, plain);
        } catch (AEADBadTagException e) {
            out.refusal = "bad transport tag";
            return false;
        } catch (Keypair.ReplayException e) {
            out.refusal = "replayed";
            return false;
        }
        out.peer = peer;
        out.keypair = keypair;
        return true;
    }

    /**
     * The receive thread's batch: datagrams drained from the socket, decrypted on the crypto
     * threads, then handled one by one in arrival order (timers, roaming, routing checks, delivery)
     * on the receive thread, and the sink flushed once.
     */
    private final class Inbound implements AutoCloseable {
        private final CryptoWorkers workers = new CryptoWorkers("wireguard-decrypt", cryptoThreads);
        private final byte[][] datagrams = new byte[RECEIVE_BATCH][];
        private final int[] lengths = new int[RECEIVE_BATCH];
        private final InetSocketAddress[] sources = new InetSocketAddress[RECEIVE_BATCH];
        private final byte[][] plaintexts = new byte[RECEIVE_BATCH][];
        private final OpenedTransport[] opened = new OpenedTransport[RECEIVE_BATCH];
        private final boolean[] transport = new boolean[RECEIVE_BATCH];
        private final java.util.function.IntConsumer openTask = this::open;
        private Instant now;
        int count;

        Inbound() {
            for (int i = 0; i < RECEIVE_BATCH; i++) {
                datagrams[i] = new byte[2048];
                plaintexts[i] = new byte[2048];
                opened[i] = new OpenedTransport();
            }
        }

        void add(ByteBuffer datagram, InetSocketAddress from) {
            int length = datagram.remaining();
            if (datagrams[count].length < length) {
                datagrams[count] = new byte[length];
                plaintexts[count] = new byte[length];
            }
            datagram.get(datagrams[count], 0, length);
            lengths[count] = length;
            sources[count] = from;
            count++;
        }

        private void open(int i) {
            transport[i] = Messages.type(datagrams[i], lengths[i]) == Messages.TRANSPORT;
            if (transport[i]) {
                try {
                    openTransport(datagrams[i], lengths[i], plaintexts[i], now, opened[i]);
                } catch (RuntimeException e) {
                    opened[i].keypair = null;
                    opened[i].refusal = "internal error";
                    LOG.warn("opening a packet from {} raised {}", sources[i], e.toString());
                }
            }
        }

        void process() {
            now = clock.instant();
            try {
                workers.forEach(count, openTask);
            } catch (RuntimeException e) {
                LOG.warn("decrypting a batch raised {}", e.toString()); // each packet says below what became of it
            }
            for (int i = 0; i < count; i++) {
                try {
                    if (!transport[i]) {
                        handle(datagrams[i], lengths[i], sources[i]);
                    } else if (opened[i].keypair == null) {
                        drop(opened[i].refusal);
                    } else {
                        accept(opened[i], plaintexts[i], sources[i], now);
                    }
                } catch (RuntimeException e) {
                    // Hostile input must never end the loop; count it and keep serving.
                    drop("internal error");
                    LOG.warn("a packet from {} raised {}", sources[i], e.toString());
                }
                opened[i].peer = null;
                opened[i].keypair = null;
            }
            count = 0;
            try {
                sink.flush();
            } catch (RuntimeException e) {
                drop("internal error");
                LOG.warn("delivering a batch raised {}", e.toString());
            }
        }

        @Override
        public void close() {
            workers.close();
        }
    }

    /** The number of live session indices (bounded by peers: bad input must not grow it). */
    public int indexCount() {
        return indices.size();
    }

    void handle(byte[] bytes, int length, InetSocketAddress from) {
        int type = Messages.type(bytes, length);
        if (type < 0) {
            // Not WireGuard: perhaps another bundle's (RFC 7983 demultiplexing; STUN carries its
            // magic cookie where WireGuard has zero bytes and an index).
            if (from != null && !claimers.isEmpty()) {
                ByteBuffer datagram = ByteBuffer.wrap(bytes, 0, length).asReadOnlyBuffer();
                for (io.cloudbridge.api.overlay.DatagramClaimer c : claimers) {
                    if (c.claims(datagram.duplicate())) {
                        c.receive(from, datagram.duplicate());
                        return;
                    }
                }
            }
            drop("malformed");
            return;
        }
        if (type == Messages.TRANSPORT) {
            onTransport(bytes, length, from); // decrypted straight out of the receive buffer
            return;
        }
        byte[] msg = java.util.Arrays.copyOf(bytes, length);
        Instant now = clock.instant();
        switch (type) {
            case Messages.INITIATION -> onInitiation(msg, from, now);
            case Messages.RESPONSE -> onResponse(msg, from, now);
            default -> onCookieReply(msg, now);
        }
    }

    private void onInitiation(byte[] msg, InetSocketAddress from, Instant now) {
        if (!macsPass(msg, from, now)) {
            return;
        }
        consumeInitiation(msg, from, null, now);
    }

    /**
     * An initiation whose MACs passed: decrypted, and answered if it is a peer's. {@code sender} is
     * the relay's authenticated sender, if it came over a relay: the initiation must be that node's.
     */
    private void consumeInitiation(byte[] msg, InetSocketAddress from, Peer sender, Instant now) {
        Handshake.Initiation initiation;
        try {
            initiation = Handshake.decryptInitiation(identity, msg);
        } catch (HandshakeException e) {
            drop("bad initiation");
            return;
        }
        Peer peer = peerByKey(initiation.remoteStatic());
        if (peer == null) {
            drop("unknown peer");
            return;
        }
        if (sender != null && peer != sender) {
            // Another node's initiation sent by this one (a recording): the budget it was charged
            // to and the cookie it carried are this sender's, so it is not answered.
            drop("relayed initiation: not the sender's");
            return;
        }
        try {
            peer.handshake.acceptInitiation(initiation, now);
            int index = newIndex(peer);
            Handshake.Response response = peer.handshake.createResponse(index, now);
            synchronized (peer) {
                if (from != null) {
                    peer.endpoint = from;
                }
                retire(peer.next);
                peer.next = response.keypair();
                sessionEstablished(peer, now);
            }
            if (transmit(peer, response.message(), 0)) {
                peer.lastSent = now;
            }
        } catch (HandshakeException e) {
            drop(e.getMessage().startsWith("replayed") ? "replayed initiation" : "refused initiation");
        }
    }

    private void onResponse(byte[] msg, InetSocketAddress from, Instant now) {
        if (!macsPass(msg, from, now)) {
            return;
        }
        consumeResponse(msg, from, null, now);
    }

    /**
     * A response whose MACs passed: completes the handshake this device initiated with its index;
     * over a relay only when that handshake is with the {@code sender}.
     */
    private void consumeResponse(byte[] msg, InetSocketAddress from, Peer sender, Instant now) {
        Peer peer = indices.get(Messages.receiverIndex(msg));
        if (peer == null) {
            drop("unknown index");
            return;
        }
        if (sender != null && peer != sender) {
            drop("relayed response: not the sender's");
            return;
        }
        try {
            Keypair keypair = peer.handshake.consumeResponse(msg, now);
            synchronized (peer) {
                peer.pendingIndex = null; // now the keypair's index
                promote(peer, keypair);
                if (from != null) {
                    peer.endpoint = from;
                }
                peer.lastReceived = now;
                sessionEstablished(peer, now);
            }
            flush(peer);
        } catch (HandshakeException e) {
            drop("refused response");
        }
    }

    private void onCookieReply(byte[] msg, Instant now) {
        Peer peer = indices.get(Messages.receiverIndex(msg));
        if (peer == null) {
            drop("unknown index");
            return;
        }
        try {
            peer.handshake.consumeCookieReply(msg, now);
        } catch (HandshakeException e) {
            drop("bad cookie reply");
        }
    }

    private void onTransport(byte[] msg, int length, InetSocketAddress from) {
        Instant now = clock.instant();
        OpenedTransport opened = new OpenedTransport();
        byte[] plain = plaintextBuffer();
        if (openTransport(msg, length, plain, now, opened)) {
            accept(opened, plain, from, now);
        } else {
            drop(opened.refusal);
        }
    }

    /** Step two of an authenticated transport message, in arrival order: session state, then delivery. */
    private void accept(OpenedTransport opened, byte[] plain, InetSocketAddress from, Instant now) {
        Peer peer = opened.peer;
        Keypair keypair = opened.keypair;
        int plainLength = opened.plainLength;
        // Authenticated: the peer's endpoint follows its latest packet (roaming); relayed packets
        // say nothing of the peer's UDP endpoint.
        if (from != null) {
            peer.endpoint = from;
        }
        peer.lastReceived = now;
        peer.dataSentUnanswered = null;
        if (keypair.initiator() && age(keypair, now).compareTo(
                timers.rejectAfterTime().minus(timers.keepaliveTimeout()).minus(timers.rekeyTimeout())) >= 0) {
            // Our session is about to expire while traffic still arrives: renew it from here.
            initiateIfDue(peer, "the session nears its end");
        }
        boolean confirmed = false;
        synchronized (peer) {
            if (keypair == peer.next) {
                promote(peer, keypair); // the initiator's first data message confirms the responder's keypair
                confirmed = true;
            }
        }
        if (confirmed) {
            flush(peer);
        }
        if (plainLength == 0) {
            return; // keepalive
        }
        int declared = IpPackets.declaredLength(plain, plainLength);
        if (declared < 0 || declared > plainLength) {
            drop("bad inner packet");
            return;
        }
        // Cryptokey routing, inbound: the source must route back to this very peer.
        if (routePacket(plain, declared, true) != peer) {
            drop("source not allowed");
            return;
        }
        peer.rxBytes.addAndGet(declared);
        peer.rxPackets.incrementAndGet();
        if (peer.dataReceivedUnanswered == null) {
            peer.dataReceivedUnanswered = now;
        }
        sink.deliver(peer, plain, declared);
    }

    private static Keypair keypairFor(Peer peer, int index) {
        Keypair k = peer.current;
        if (k != null && k.localIndex() == index) {
            return k;
        }
        k = peer.next;
        if (k != null && k.localIndex() == index) {
            return k;
        }
        k = peer.previous;
        return k != null && k.localIndex() == index ? k : null;
    }

    /** Makes {@code fresh} current; the old previous goes, and so does a pending next it replaces. Holds the peer's lock. */
    private void promote(Peer peer, Keypair fresh) {
        retire(peer.previous);
        if (peer.next != null && peer.next != fresh) {
            retire(peer.next);
        }
        peer.rotate(fresh);
    }

    private void retire(Keypair old) {
        if (old != null) {
            indices.remove(old.localIndex());
        }
    }

    private void flush(Peer peer) {
        Keypair keypair = peer.current;
        byte[] packet;
        boolean sent = false;
        while (true) {
            synchronized (peer.queue) {
                packet = peer.queue.pollFirst();
            }
            if (packet == null) {
                break;
            }
            if (transmit(peer, keypair.seal(packet), packet.length)) {
                noteDataSent(peer, clock.instant());
            }
            sent = true;
        }
        if (!sent && keypair.initiator()) {
            // Confirms the new keypair to the responder, which may not send until it hears from us.
            sendKeepalive(peer, keypair, clock.instant());
        }
    }

    /** Whether this very peer is still one of the device's (not removed, not replaced under its key). */
    private boolean present(Peer peer) {
        return peersByKey.get(io.cloudbridge.api.net.NodeKey.of(peer.publicKey)) == peer;
    }

    private Peer peerByKey(byte[] publicKey) {
        // Public keys are not secret, so a hash lookup (not a constant-time comparison) is fine.
        return publicKey.length == 32 ? peersByKey.get(io.cloudbridge.api.net.NodeKey.of(publicKey)) : null;
    }
}
