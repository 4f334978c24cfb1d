package io.cloudbridge.wireguard.internal.device;

import io.cloudbridge.wireguard.internal.noise.Keypair;
import io.cloudbridge.api.path.PathBinding;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.time.Clock;
import java.time.Instant;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The send path: IP packets from the TUN device or the userspace stack out as transport messages,
 * and every other message this device sends (handshakes, cookie replies, keepalives) through the
 * same transmit step. Stages, in the order a packet meets them:
 *
 * <ol>
 * <li>Routing: the peer whose allowed IPs hold the destination (longest prefix).</li>
 * <li>Staging: without a usable session the packet waits on its peer's queue and a handshake
 *     starts; the handshake's end {@link #flush flushes} the queue.</li>
 * <li>Counter: the keypair's next nonce, taken in packet order on the sending thread.</li>
 * <li>Sealing: a batch's on the crypto threads ({@link BatchSender}), a single packet on the
 *     caller's.</li>
 * <li>Transmission: in counter order, through the path binding, which picks the way.</li>
 * <li>Afterwards: transfer counters and the timers' state; an initiator's session that is old or
 *     has sent too much asks for a rekey.</li>
 * </ol>
 *
 * <p>Counters are taken and messages sent in the same order because the receiver's replay window
 * refuses what falls too far behind the newest counter it saw: sealing may run in parallel, the
 * steps either side of it may not.
 */
final class Outbound {
    private static final Logger LOG = LoggerFactory.getLogger(Outbound.class);

    /** The routing table, the drop counters, the crypto thread count and handshake initiation are the device's. */
    private final WireGuardDevice device;
    private final Clock clock;
    private final Timers timers;

    Outbound(WireGuardDevice device, Clock clock, Timers timers) {
        this.device = device;
        this.clock = clock;
        this.timers = timers;
    }

    /** Sends a message to an address rather than a peer (a cookie reply under load); false, counted, when it could not go. */
    boolean sendTo(InetSocketAddress to, ByteBuffer message) {
        PathBinding.Sent sent = device.paths().send(null, to, message);
        if (sent != PathBinding.Sent.SENT) {
            device.drop(sent.reason());
            return false;
        }
        return true;
    }

    /**
     * A flow this node opens: the policy filter lets its replies in. False (counted) for a packet of
     * a flow the policy stopped, which is not sent.
     */
    private boolean noteOutbound(byte[] packet, int length) {
        io.cloudbridge.api.policy.PacketFilter policy = device.filter();
        if (policy != null && !policy.noteOutbound(packet, 0, length)) {
            device.drop("refused by policy");
            return false;
        }
        return true;
    }

    /** See {@link WireGuardDevice#send(byte[], int)}. */
    boolean send(byte[] packet, int length) {
        Peer best = device.routePacket(packet, length, false);
        if (best == null) {
            device.drop("no route");
            return false;
        }
        if (!noteOutbound(packet, length)) {
            return false;
        }
        return sendTo(best, packet, length);
    }

    /**
     * See {@link WireGuardDevice#sendOnSession}. Counted in the peer's figures and as a send for
     * the persistent keepalive (the path stays as warm as a keepalive keeps it), but not as data
     * for the session's timers: it neither renews an old session nor expects an answer that would
     * start a handshake when none comes, so probes alone never keep a session up.
     */
    boolean sendOnSession(Peer peer, byte[] packet, int length) {
        Keypair keypair = peer.current;
        Instant now = clock.instant();
        if (keypair == null || !timers.usable(keypair, now) || keypair.exhausted()) {
            return false;
        }
        if (!transmit(peer, ByteBuffer.wrap(keypair.seal(packet, length)), length)) {
            return false;
        }
        peer.txPackets.incrementAndGet();
        peer.lastSent = now;
        return true;
    }

    private boolean sendTo(Peer peer, byte[] packet, int length) {
        Keypair keypair = peer.current;
        Instant now = clock.instant();
        if (keypair == null || !timers.usable(keypair, now) || keypair.exhausted()) {
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
                device.drop("queue full");
            }
            peer.queue.addLast(java.util.Arrays.copyOf(packet, length));
        }
        device.initiateIfDue(peer, "a packet waits for a session");
    }

    private void afterSend(Peer peer, Keypair keypair, boolean sent, Instant now) {
        if (sent) {
            peer.txPackets.incrementAndGet();
            noteDataSent(peer, now);
        }
        // The initiator of a session renews it when it grows old or long (whitepaper 6.2).
        if (keypair.initiator() && (Timers.age(keypair, now).compareTo(timers.rekeyAfterTime()) >= 0
                || keypair.messagesSent() >= Timers.REKEY_AFTER_MESSAGES)) {
            device.initiateIfDue(peer, "the session is old: rekey");
        }
    }

    /**
     * A data path's sender for batches of packets (the TUN reader's): it routes every packet and
     * takes its counter in order, seals the batch on {@link WireGuardDevice#setCryptoThreads}
     * threads into messages it reuses, then sends them in the batch's order. One thread uses it.
     */
    public final class BatchSender implements AutoCloseable {
        private final CryptoWorkers workers;
        private final Peer[] peers;
        private final Keypair[] keypairs;
        private final long[] counters;
        private final byte[][] messages;
        private final ByteBuffer[] wrappers;
        private final int[] messageLengths;
        /** A run of one peer's sealed messages, handed to the binding in one call (a burst), and their outcomes. */
        private final ByteBuffer[] run;
        private final int[] runIndex;
        private final PathBinding.Sent[] outcomes;
        private io.cloudbridge.api.net.PacketBatch batch;
        private final java.util.function.IntConsumer sealTask = this::seal;

        BatchSender(int capacity) {
            workers = new CryptoWorkers("wireguard-encrypt", device.cryptoThreads());
            peers = new Peer[capacity];
            keypairs = new Keypair[capacity];
            counters = new long[capacity];
            messages = new byte[capacity][];
            wrappers = new ByteBuffer[capacity];
            messageLengths = new int[capacity];
            run = new ByteBuffer[capacity];
            runIndex = new int[capacity];
            outcomes = new PathBinding.Sent[capacity];
            for (int i = 0; i < capacity; i++) {
                messages[i] = new byte[2048];
                wrappers[i] = ByteBuffer.wrap(messages[i]);
            }
        }

        /** Sends every packet of the batch (routing, queueing for a handshake, sealing, sending). */
        public void send(io.cloudbridge.api.net.PacketBatch packets) {
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

        private void sendBatch(io.cloudbridge.api.net.PacketBatch packets, int n, Instant now) {
            for (int i = 0; i < n; i++) {
                keypairs[i] = null;
                peers[i] = null;
                byte[] packet = packets.slot(i);
                int length = packets.length(i);
                Peer peer = device.routePacket(packet, length, false);
                if (peer == null) {
                    device.drop("no route");
                    continue;
                }
                if (!noteOutbound(packet, length)) {
                    continue;
                }
                Keypair keypair = peer.current;
                if (keypair == null || !timers.usable(keypair, now) || keypair.exhausted()) {
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
            // In the batch's order, consecutive messages of one peer together: the binding may hand
            // such a run (one TCP send's segments, mostly) to the kernel in one system call.
            int runLength = 0;
            Peer runPeer = null;
            for (int i = 0; i < n; i++) {
                Keypair keypair = keypairs[i];
                if (keypair == null) {
                    continue;
                }
                if (messageLengths[i] < 0) {
                    keypairs[i] = null;
                    peers[i] = null;
                    device.drop("internal error");
                    continue;
                }
                if (peers[i] != runPeer && runLength > 0) {
                    sendRun(runPeer, runLength, packets, now);
                    runLength = 0;
                }
                runPeer = peers[i];
                ByteBuffer message = wrappers[i];
                message.clear().limit(messageLengths[i]);
                run[runLength] = message;
                runIndex[runLength++] = i;
            }
            if (runLength > 0) {
                sendRun(runPeer, runLength, packets, now);
            }
        }

        /** Sends a run of one peer's messages (indices in {@link #runIndex}) and accounts for each. */
        private void sendRun(Peer peer, int length, io.cloudbridge.api.net.PacketBatch packets, Instant now) {
            device.paths().send(peer.key, peer.endpoint, run, 0, length, outcomes);
            for (int r = 0; r < length; r++) {
                int i = runIndex[r];
                Keypair keypair = keypairs[i];
                keypairs[i] = null;
                peers[i] = null;
                run[r] = null;
                afterSend(peer, keypair, accounted(peer, outcomes[r], packets.length(i)), now);
                outcomes[r] = null;
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

    private static void noteDataSent(Peer peer, Instant now) {
        peer.lastSent = now;
        peer.dataReceivedUnanswered = null;
        if (peer.dataSentUnanswered == null) {
            peer.dataSentUnanswered = now;
        }
    }

    boolean transmit(Peer peer, byte[] message, int plainLength) {
        return transmit(peer, ByteBuffer.wrap(message), plainLength);
    }

    private boolean transmit(Peer peer, ByteBuffer message, int plainLength) {
        return accounted(peer, device.paths().send(peer.key, peer.endpoint, message), plainLength);
    }

    /** Counts a message's outcome: a drop by its reason, or the bytes it carried. */
    private boolean accounted(Peer peer, PathBinding.Sent sent, int plainLength) {
        if (sent != PathBinding.Sent.SENT) {
            device.drop(sent.reason());
            return false;
        }
        peer.txBytes.addAndGet(plainLength);
        return true;
    }

    void sendKeepalive(Peer peer, Keypair keypair, Instant now) {
        peer.dataReceivedUnanswered = null;
        if (transmit(peer, keypair.seal(new byte[0]), 0)) {
            peer.lastSent = now;
        }
    }

    /** Sends what waited for the peer's new session, or a keepalive that confirms the session. */
    void flush(Peer peer) {
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
}
