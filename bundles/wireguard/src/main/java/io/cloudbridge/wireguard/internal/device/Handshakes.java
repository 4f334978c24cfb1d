package io.cloudbridge.wireguard.internal.device;

import io.cloudbridge.wireguard.internal.noise.Handshake;
import io.cloudbridge.wireguard.internal.noise.HandshakeException;
import io.cloudbridge.wireguard.internal.noise.Identity;
import io.cloudbridge.wireguard.internal.noise.Keypair;
import io.cloudbridge.wireguard.internal.noise.Messages;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The handshake path: sessions begun, answered and put in place (whitepaper section 5.4). Stages,
 * in order:
 *
 * <ol>
 * <li>Initiation: on demand (a packet waits, a session is old, the timers), one run of attempts
 *     per peer at a time; each retry replaces the initiation before it and frees its index.</li>
 * <li>Admission, before any of this: MAC1, and under load a cookie and a per-source budget
 *     ({@link HandshakeRateLimiter}); a relayed message waits for the handshake thread.</li>
 * <li>Consumption: an initiation from a peer is decrypted and answered; a response completes the
 *     initiation its index names; a cookie reply is kept for the next initiation's MAC2.</li>
 * <li>Rotation: the new keypair takes its place and the one it displaces gives up its index.</li>
 * <li>Release: what waited for the session goes out ({@link Outbound#flush}).</li>
 * </ol>
 *
 * <p>The responder's new keypair waits as {@code next} rather than becoming current: until the
 * initiator's first data message it has no proof that the initiator holds the keys too (the
 * initiation may be a replay, the response may be lost).
 */
final class Handshakes {
    private static final Logger LOG = LoggerFactory.getLogger(Handshakes.class);
    /** How soon an initiation that no path took is tried again. */
    private static final java.time.Duration NO_PATH_RETRY = java.time.Duration.ofMillis(250);
    private static final java.time.Duration NO_PATH_RETRY_FOR = java.time.Duration.ofSeconds(3);
    /** After {@link #NO_PATH_RETRY_FOR}: still sooner than the rekey timeout, which would leave a late path idle 5 s. */
    private static final java.time.Duration NO_PATH_RETRY_LATER = java.time.Duration.ofSeconds(1);
    /** A path flapping must not become a handshake flood: at most one nudged initiation per peer this often. */
    private static final Duration MIN_NUDGE_SPACING = Duration.ofMillis(200);

    /** The peers by key and the drop counters are the device's. */
    private final WireGuardDevice device;
    private final Identity identity;
    private final Clock clock;
    private final Timers timers;
    private final IndexTable indices;
    private final Outbound outbound;

    Handshakes(WireGuardDevice device, Identity identity, Clock clock, Timers timers, IndexTable indices, Outbound outbound) {
        this.device = device;
        this.identity = identity;
        this.clock = clock;
        this.timers = timers;
        this.indices = indices;
        this.outbound = outbound;
    }

    /** Starts a handshake unless attempts are already under way; {@code why} is logged (debug). */
    void initiateIfDue(Peer peer, String why) {
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
    void retryPendingHandshakes() {
        Instant now = clock.instant();
        for (Peer peer : device.livePeers()) {
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

    void sendInitiation(Peer peer, Instant now) {
        byte[] initiation;
        synchronized (peer) {
            peer.lastHandshakeSent = now;
            long jitter = java.util.concurrent.ThreadLocalRandom.current().nextLong(Timers.REKEY_TIMEOUT_JITTER.toNanos());
            peer.retryAt = now.plus(timers.rekeyTimeout()).plusNanos(jitter);
            if (peer.handshakeAttemptsSince == null) {
                peer.handshakeAttemptsSince = now;
            }
            int index = indices.newIndex(peer);
            Integer replaced = peer.pendingIndex;
            if (replaced != null) {
                indices.remove(replaced); // a retry replaces the initiation it retries
            }
            peer.pendingIndex = index;
            initiation = peer.handshake.createInitiation(index, now);
        }
        if (outbound.transmit(peer, initiation, 0)) {
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

    /** A new session is in place: the handshake attempts are over. Holds the peer's lock. */
    private static void sessionEstablished(Peer peer, Instant now) {
        peer.handshakeAttemptsSince = null;
        peer.retryAt = null;
        peer.lastNewSession = now;
        peer.lastHandshakeCompleted = now;
        peer.handshakesCompleted.incrementAndGet();
    }

    /** On the handshake thread: the Diffie-Hellman work of a relayed handshake message (MACs checked). */
    void handleRelayed(RelayedHandshakes.Job job) {
        Instant now = clock.instant();
        byte[] msg = job.message();
        if (msg[0] == Messages.INITIATION) {
            consumeInitiation(msg, null, job.sender(), now);
        } else {
            consumeResponse(msg, null, job.sender(), now);
        }
    }

    /**
     * An initiation whose MACs passed: decrypted, and answered if it is a peer's. {@code sender} is
     * the relay's authenticated sender, if it came over a relay: the initiation must be that node's.
     */
    void consumeInitiation(byte[] msg, InetSocketAddress from, Peer sender, Instant now) {
        Handshake.Initiation initiation;
        try {
            initiation = Handshake.decryptInitiation(identity, msg);
        } catch (HandshakeException e) {
            device.drop("bad initiation");
            return;
        }
        Peer peer = device.peerByKey(initiation.remoteStatic());
        if (peer == null) {
            device.drop("unknown peer");
            return;
        }
        if (sender != null && peer != sender) {
            // Another node's initiation sent by this one (a recording): the budget it was charged
            // to and the cookie it carried are this sender's, so it is not answered.
            device.drop("relayed initiation: not the sender's");
            return;
        }
        try {
            peer.handshake.acceptInitiation(initiation, now);
            int index = indices.newIndex(peer);
            Handshake.Response response = peer.handshake.createResponse(index, now);
            synchronized (peer) {
                if (from != null) {
                    peer.endpoint = from;
                }
                indices.retire(peer.next);
                peer.next = response.keypair();
                sessionEstablished(peer, now);
            }
            if (outbound.transmit(peer, response.message(), 0)) {
                peer.lastSent = now;
            }
        } catch (HandshakeException e) {
            device.drop(e.getMessage().startsWith("replayed") ? "replayed initiation" : "refused initiation");
        }
    }

    /**
     * A response whose MACs passed: completes the handshake this device initiated with its index;
     * over a relay only when that handshake is with the {@code sender}.
     */
    void consumeResponse(byte[] msg, InetSocketAddress from, Peer sender, Instant now) {
        Peer peer = indices.get(Messages.receiverIndex(msg));
        if (peer == null) {
            device.drop("unknown index");
            return;
        }
        if (sender != null && peer != sender) {
            device.drop("relayed response: not the sender's");
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
            outbound.flush(peer);
        } catch (HandshakeException e) {
            device.drop("refused response");
        }
    }

    void onCookieReply(byte[] msg, Instant now) {
        Peer peer = indices.get(Messages.receiverIndex(msg));
        if (peer == null) {
            device.drop("unknown index");
            return;
        }
        try {
            peer.handshake.consumeCookieReply(msg, now);
        } catch (HandshakeException e) {
            device.drop("bad cookie reply");
        }
    }

    /** Makes {@code fresh} current; the old previous goes, and so does a pending next it replaces. Holds the peer's lock. */
    void promote(Peer peer, Keypair fresh) {
        indices.retire(peer.previous);
        if (peer.next != null && peer.next != fresh) {
            indices.retire(peer.next);
        }
        peer.rotate(fresh);
    }
}
