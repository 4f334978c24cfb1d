package io.cloudbridge.wireguard.internal.device;

import io.cloudbridge.api.path.DatagramBatch;
import io.cloudbridge.api.path.PathBinding;
import io.cloudbridge.wireguard.internal.noise.Keypair;
import io.cloudbridge.wireguard.internal.noise.Messages;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.time.Clock;
import java.time.Instant;
import javax.crypto.AEADBadTagException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The receive path: datagrams the path binding receives, and messages it hands in from its other
 * paths, to decrypted packets for the {@link WireGuardDevice.PacketSink}. Stages, in order:
 *
 * <ol>
 * <li>Reception: the receive thread pulls a batch of up to {@link #RECEIVE_BATCH} datagrams from
 *     the binding ({@link PathBinding#receive}, which keeps STUN and the like for itself, as
 *     RFC 7983 tells them apart); a relay path hands in one message at a time on its own
 *     thread.</li>
 * <li>Demultiplexing by message type.</li>
 * <li>Initiations and responses: admission ({@link HandshakeRateLimiter}), then
 *     {@link Handshakes}; cookie replies go to {@link Handshakes} at once.</li>
 * <li>Decryption: a transport message finds its session by index, is authenticated and checked
 *     against the replay window; a batch's on the crypto threads.</li>
 * <li>Session state: roaming, the timers' state, a rekey near the session's end, the responder's
 *     keypair confirmed.</li>
 * <li>Cryptokey routing, inbound: the inner packet's source must route back to the sending peer.</li>
 * <li>Delivery to the sink, flushed once a batch.</li>
 * </ol>
 *
 * <p>Only decryption runs in parallel: the stages after it change the peer's state (its endpoint
 * follows its latest packet) and must see packets in the order they arrived. Nothing from the
 * network can throw out of the receive loop: every refusal is a drop counted by reason.
 */
final class Inbound {
    private static final Logger LOG = LoggerFactory.getLogger(Inbound.class);
    private static final int MAX_PACKET = 65_535;
    /** Datagrams the receive path takes from the binding before it decrypts them as one batch. */
    static final int RECEIVE_BATCH = 64;

    /**
     * The receive path's plaintext buffer. Only the thread that handles datagrams uses it; relayed
     * packets ({@link #receiveEncrypted}) come in on other threads and get their own.
     */
    private final ThreadLocal<byte[]> plaintextBuffers = ThreadLocal.withInitial(() -> new byte[MAX_PACKET]);
    /** Relayed messages are copied here first (the transport's buffer may be direct): one per delivering thread. */
    private final ThreadLocal<byte[]> arrivalBuffers = ThreadLocal.withInitial(() -> new byte[2048]);
    private byte[] plaintextBuffer() {
        return plaintextBuffers.get();
    }

    /** The routing table, the drop counters and the crypto thread count are the device's. */
    private final WireGuardDevice device;
    private final WireGuardDevice.PacketSink sink;
    private final Clock clock;
    private final Timers timers;
    private final IndexTable indices;
    private final HandshakeRateLimiter limiter;
    private final Handshakes handshakes;
    private final Outbound outbound;
    private Thread receiver;
    private volatile boolean running;

    Inbound(WireGuardDevice device, WireGuardDevice.PacketSink sink, Clock clock, Timers timers,
            IndexTable indices, HandshakeRateLimiter limiter, Handshakes handshakes, Outbound outbound) {
        this.device = device;
        this.sink = sink;
        this.clock = clock;
        this.timers = timers;
        this.indices = indices;
        this.limiter = limiter;
        this.handshakes = handshakes;
        this.outbound = outbound;
    }

    /** Starts the receive thread. */
    void start() {
        running = true;
        receiver = new Thread(this::receiveLoop, "wireguard-receive");
        receiver.setDaemon(true);
        receiver.start();
    }

    /** Tells the receive thread to end; it does at its next look at the binding, or when the binding closes. */
    void stop() {
        running = false;
    }

    /** Waits (a little) for the receive thread to end. */
    void awaitStop() {
        if (receiver != null) {
            try {
                receiver.join(2000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** See {@link WireGuardDevice#receiveEncrypted}. */
    void receiveEncrypted(byte[] packet, int length) {
        receiveEncryptedInBurst(packet, length);
        burstEnd();
    }

    /**
     * A relayed message of a burst, handled on the caller's thread; what it decrypts to may wait in
     * this thread's part of the sink (the TUN device joins a burst's TCP segments) until
     * {@link #burstEnd}. Nothing here keeps {@code packet} beyond the call.
     */
    void receiveEncryptedInBurst(byte[] packet, int length) {
        try {
            handle(packet, length, null);
        } catch (RuntimeException e) {
            device.drop("internal error");
            LOG.warn("a relayed packet raised {}", e.toString());
        }
    }

    /** Delivers what this thread's burst left in the sink. */
    void burstEnd() {
        try {
            sink.flush();
        } catch (RuntimeException e) {
            device.drop("internal error");
            LOG.warn("delivering a relayed burst raised {}", e.toString());
        }
    }

    /** A buffer of at least {@code length} bytes for a relayed message, this thread's own (handled before it returns). */
    byte[] arrivalBuffer(int length) {
        byte[] b = arrivalBuffers.get();
        if (b.length < length) {
            b = new byte[length];
            arrivalBuffers.set(b);
        }
        return b;
    }

    /** See {@link WireGuardDevice#receiveRelayed}. */
    void receiveRelayed(byte[] sender, byte[] packet, int length) {
        int type = Messages.type(packet, length);
        if (type != Messages.INITIATION && type != Messages.RESPONSE) {
            receiveEncrypted(packet, length);
            return;
        }
        try {
            limiter.relayedHandshake(sender, java.util.Arrays.copyOf(packet, length));
        } catch (RuntimeException e) {
            device.drop("internal error");
            LOG.warn("a relayed handshake raised {}", e.toString());
        }
    }

    private void receiveLoop() {
        try (ReceiveBatch batch = new ReceiveBatch()) {
            while (running) {
                PathBinding paths = device.paths();
                int n;
                try {
                    n = paths.receive(batch.datagrams);
                } catch (IOException e) {
                    device.drop("receive failed");
                    continue;
                }
                if (batch.datagrams.count() > 0) {
                    batch.process();
                }
                if (n < 0 && running && device.paths() == paths) {
                    // Closed and not replaced yet (the paths' bundle going away): wait for the next.
                    java.util.concurrent.locks.LockSupport.parkNanos(50_000_000L);
                }
            }
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
        if (!timers.usable(keypair, now)) {
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
    private final class ReceiveBatch implements AutoCloseable {
        private final CryptoWorkers workers = new CryptoWorkers("wireguard-decrypt", device.cryptoThreads());
        /** What the binding received, filled by {@link PathBinding#receive}. */
        final DatagramBatch datagrams = new DatagramBatch(RECEIVE_BATCH, 2048);
        private final byte[][] plaintexts = new byte[RECEIVE_BATCH][];
        private final OpenedTransport[] opened = new OpenedTransport[RECEIVE_BATCH];
        private final boolean[] transport = new boolean[RECEIVE_BATCH];
        private final java.util.function.IntConsumer openTask = this::open;
        private Instant now;

        ReceiveBatch() {
            for (int i = 0; i < RECEIVE_BATCH; i++) {
                plaintexts[i] = new byte[2048];
                opened[i] = new OpenedTransport();
            }
        }

        private void open(int i) {
            byte[] datagram = datagrams.slot(i);
            int length = datagrams.length(i);
            transport[i] = Messages.type(datagram, length) == Messages.TRANSPORT;
            if (transport[i]) {
                try {
                    openTransport(datagram, length, plaintexts[i], now, opened[i]);
                } catch (RuntimeException e) {
                    opened[i].keypair = null;
                    opened[i].refusal = "internal error";
                    LOG.warn("opening a packet from {} raised {}", datagrams.source(i), e.toString());
                }
            }
        }

        void process() {
            now = clock.instant();
            int count = datagrams.count();
            for (int i = 0; i < count; i++) {
                if (plaintexts[i].length < datagrams.length(i)) {
                    plaintexts[i] = new byte[datagrams.slot(i).length]; // the binding grew the slot for a larger datagram
                }
            }
            try {
                workers.forEach(count, openTask);
            } catch (RuntimeException e) {
                LOG.warn("decrypting a batch raised {}", e.toString()); // each packet says below what became of it
            }
            for (int i = 0; i < count; i++) {
                try {
                    if (!transport[i]) {
                        handle(datagrams.slot(i), datagrams.length(i), datagrams.source(i));
                    } else if (opened[i].keypair == null) {
                        device.drop(opened[i].refusal);
                    } else {
                        accept(opened[i], plaintexts[i], datagrams.source(i), now);
                    }
                } catch (RuntimeException e) {
                    // Hostile input must never end the loop; count it and keep serving.
                    device.drop("internal error");
                    LOG.warn("a packet from {} raised {}", datagrams.source(i), e.toString());
                }
                opened[i].peer = null;
                opened[i].keypair = null;
            }
            datagrams.clear();
            try {
                sink.flush();
            } catch (RuntimeException e) {
                device.drop("internal error");
                LOG.warn("delivering a batch raised {}", e.toString());
            }
        }

        @Override
        public void close() {
            workers.close();
        }
    }

    void handle(byte[] bytes, int length, InetSocketAddress from) {
        int type = Messages.type(bytes, length);
        if (type < 0) {
            // Not WireGuard, and not claimed by the binding (RFC 7983: STUN goes to hole punching there).
            device.drop("malformed");
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
            default -> handshakes.onCookieReply(msg, now);
        }
    }

    private void onInitiation(byte[] msg, InetSocketAddress from, Instant now) {
        if (!limiter.macsPass(msg, from, now)) {
            return;
        }
        handshakes.consumeInitiation(msg, from, null, now);
    }

    private void onResponse(byte[] msg, InetSocketAddress from, Instant now) {
        if (!limiter.macsPass(msg, from, now)) {
            return;
        }
        handshakes.consumeResponse(msg, from, null, now);
    }

    private void onTransport(byte[] msg, int length, InetSocketAddress from) {
        Instant now = clock.instant();
        OpenedTransport opened = new OpenedTransport();
        byte[] plain = plaintextBuffer();
        if (openTransport(msg, length, plain, now, opened)) {
            accept(opened, plain, from, now);
        } else {
            device.drop(opened.refusal);
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
        boolean confirmed = false;
        synchronized (peer) {
            if (keypair == peer.next) {
                handshakes.promote(peer, keypair); // the initiator's first data message confirms the responder's keypair
                confirmed = true;
            }
        }
        if (confirmed) {
            outbound.flush(peer);
        }
        if (plainLength == 0) {
            renewIfNearItsEnd(peer, keypair, now);
            return; // keepalive
        }
        int declared = IpPackets.declaredLength(plain, plainLength);
        if (declared < 0 || declared > plainLength) {
            device.drop("bad inner packet");
            return;
        }
        // Cryptokey routing, inbound: the source must route back to this very peer.
        if (device.routePacket(plain, declared, true) != peer) {
            device.drop("source not allowed");
            return;
        }
        if (sink.answerBeforePolicy(peer, plain, declared)) {
            // A link probe or its answer: counted, but not traffic that keeps the session up or wants a keepalive back.
            peer.rxBytes.addAndGet(declared);
            peer.rxPackets.incrementAndGet();
            return;
        }
        renewIfNearItsEnd(peer, keypair, now);
        // The tenant's policy, after cryptokey routing (the source is the peer's own): the filter
        // counts and logs what it refuses.
        io.cloudbridge.api.policy.PacketFilter policy = device.filter();
        if (policy != null && !policy.admitInbound(plain, 0, declared)) {
            device.drop("refused by policy");
            return;
        }
        countReceived(peer, declared, now);
        sink.deliver(peer, plain, declared);
    }

    /** Our session is about to expire while traffic still arrives: renew it from here. */
    private void renewIfNearItsEnd(Peer peer, Keypair keypair, Instant now) {
        if (keypair.initiator() && Timers.age(keypair, now).compareTo(
                timers.rejectAfterTime().minus(timers.keepaliveTimeout()).minus(timers.rekeyTimeout())) >= 0) {
            handshakes.initiateIfDue(peer, "the session nears its end");
        }
    }

    /** A packet of the peer's taken in: its figures, and the passive keepalive's clock. */
    private static void countReceived(Peer peer, int length, Instant now) {
        peer.rxBytes.addAndGet(length);
        peer.rxPackets.incrementAndGet();
        if (peer.dataReceivedUnanswered == null) {
            peer.dataReceivedUnanswered = now;
        }
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
}
