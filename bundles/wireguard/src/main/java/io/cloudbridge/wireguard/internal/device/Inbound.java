package io.cloudbridge.wireguard.internal.device;

import io.cloudbridge.wireguard.internal.noise.Keypair;
import io.cloudbridge.wireguard.internal.noise.Messages;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.DatagramChannel;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import javax.crypto.AEADBadTagException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The receive path: datagrams from this socket, and messages handed in from relay paths, to
 * decrypted packets for the {@link WireGuardDevice.PacketSink}. Stages, in order:
 *
 * <ol>
 * <li>Reception: the receive thread drains the socket into a batch of up to
 *     {@link #RECEIVE_BATCH} datagrams; a relay path hands in one message at a time on its own
 *     thread.</li>
 * <li>Demultiplexing by message type; a datagram that is not WireGuard's may be another bundle's
 *     (STUN).</li>
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
    /** Datagrams the receive path takes from the socket before it decrypts them as one batch. */
    static final int RECEIVE_BATCH = 64;
    /** How long the receive thread waits for a datagram before it looks whether the device closed. */
    private static final int POLL_MILLIS = 200;

    /**
     * The receive path's plaintext buffer. Only the thread that handles datagrams uses it; relayed
     * packets ({@link #receiveEncrypted}) come in on other threads and get their own.
     */
    private final ThreadLocal<byte[]> plaintextBuffers = ThreadLocal.withInitial(() -> new byte[MAX_PACKET]);
    private byte[] plaintextBuffer() {
        return plaintextBuffers.get();
    }

    /** The routing table, the drop counters and the crypto thread count are the device's. */
    private final WireGuardDevice device;
    private final DatagramChannel channel;
    private final WireGuardDevice.PacketSink sink;
    private final Clock clock;
    private final Timers timers;
    private final IndexTable indices;
    private final HandshakeRateLimiter limiter;
    private final Handshakes handshakes;
    private final Outbound outbound;
    /** Other bundles' claims on non-WireGuard datagrams of this socket (STUN). */
    private final List<io.cloudbridge.api.overlay.DatagramClaimer> claimers = new CopyOnWriteArrayList<>();
    private Thread receiver;
    private java.nio.channels.Selector selector;
    private volatile boolean running;

    Inbound(WireGuardDevice device, DatagramChannel channel, WireGuardDevice.PacketSink sink, Clock clock, Timers timers,
            IndexTable indices, HandshakeRateLimiter limiter, Handshakes handshakes, Outbound outbound) {
        this.device = device;
        this.channel = channel;
        this.sink = sink;
        this.clock = clock;
        this.timers = timers;
        this.indices = indices;
        this.limiter = limiter;
        this.handshakes = handshakes;
        this.outbound = outbound;
    }

    void addClaimer(io.cloudbridge.api.overlay.DatagramClaimer claimer) {
        claimers.add(claimer);
    }

    void removeClaimer(io.cloudbridge.api.overlay.DatagramClaimer claimer) {
        claimers.remove(claimer);
    }

    /** Makes the socket non-blocking and starts the receive thread. */
    void start() throws IOException {
        channel.configureBlocking(false);
        selector = java.nio.channels.Selector.open();
        channel.register(selector, java.nio.channels.SelectionKey.OP_READ);
        running = true;
        receiver = new Thread(this::receiveLoop, "wireguard-receive");
        receiver.setDaemon(true);
        receiver.start();
    }

    /** Tells the receive thread to end; it does at its next look at the socket, or when the socket closes. */
    void stop() {
        running = false;
    }

    /** Waits (a little) for the receive thread to end, then closes its selector. */
    void awaitStop() throws IOException {
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

    /** See {@link WireGuardDevice#receiveEncrypted}. */
    void receiveEncrypted(byte[] packet, int length) {
        try {
            handle(packet, length, null);
            sink.flush();
        } catch (RuntimeException e) {
            device.drop("internal error");
            LOG.warn("a relayed packet raised {}", e.toString());
        }
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
        ByteBuffer buffer = ByteBuffer.allocateDirect(MAX_PACKET);
        try (ReceiveBatch batch = new ReceiveBatch()) {
            while (running) {
                InetSocketAddress from;
                try {
                    buffer.clear();
                    from = (InetSocketAddress) channel.receive(buffer);
                } catch (ClosedChannelException closed) {
                    return;
                } catch (IOException e) {
                    device.drop("receive failed");
                    continue;
                }
                if (from == null) {
                    // The socket is drained: decrypt and deliver what came, or wait for more.
                    if (batch.count > 0) {
                        batch.process();
                    } else {
                        awaitDatagram();
                    }
                    continue;
                }
                buffer.flip();
                batch.add(buffer, from);
                if (batch.count == RECEIVE_BATCH) {
                    batch.process();
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
        private final byte[][] datagrams = new byte[RECEIVE_BATCH][];
        private final int[] lengths = new int[RECEIVE_BATCH];
        private final InetSocketAddress[] sources = new InetSocketAddress[RECEIVE_BATCH];
        private final byte[][] plaintexts = new byte[RECEIVE_BATCH][];
        private final OpenedTransport[] opened = new OpenedTransport[RECEIVE_BATCH];
        private final boolean[] transport = new boolean[RECEIVE_BATCH];
        private final java.util.function.IntConsumer openTask = this::open;
        private Instant now;
        int count;

        ReceiveBatch() {
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
                        device.drop(opened[i].refusal);
                    } else {
                        accept(opened[i], plaintexts[i], sources[i], now);
                    }
                } catch (RuntimeException e) {
                    // Hostile input must never end the loop; count it and keep serving.
                    device.drop("internal error");
                    LOG.warn("a packet from {} raised {}", sources[i], e.toString());
                }
                opened[i].peer = null;
                opened[i].keypair = null;
            }
            count = 0;
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
        if (keypair.initiator() && Timers.age(keypair, now).compareTo(
                timers.rejectAfterTime().minus(timers.keepaliveTimeout()).minus(timers.rekeyTimeout())) >= 0) {
            // Our session is about to expire while traffic still arrives: renew it from here.
            handshakes.initiateIfDue(peer, "the session nears its end");
        }
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
}
