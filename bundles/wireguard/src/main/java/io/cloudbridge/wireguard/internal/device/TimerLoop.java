package io.cloudbridge.wireguard.internal.device;

import io.cloudbridge.wireguard.internal.noise.Keypair;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The timers of whitepaper section 6, on one thread that looks at every peer each tick. Per peer,
 * in the order a tick takes them:
 *
 * <ol>
 * <li>Handshake retry: with jitter after each rekey timeout, until REKEY_ATTEMPT_TIME; then the
 *     attempts end and what waited for them is dropped.</li>
 * <li>Passive keepalive: data came in and nothing went out for the keepalive timeout.</li>
 * <li>Dead session: data went out and nothing came back for keepalive plus rekey timeout, so a
 *     new handshake starts.</li>
 * <li>Persistent keepalive: nothing sent for the peer's interval.</li>
 * <li>Key erasure: every key of a peer without a new session for 3 x REJECT_AFTER_TIME.</li>
 * </ol>
 *
 * <p>Rekeying after REKEY_AFTER_TIME needs no timer: the send path asks for it when it uses an old
 * session, and the receive path before REJECT_AFTER_TIME while traffic still arrives. Polling
 * every peer from one thread, rather than arming a timer per peer and event, spares the data paths
 * any timer work per packet: they note timestamps, and this loop acts on them.
 */
final class TimerLoop implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(TimerLoop.class);

    /** The peers and the drop counters are the device's. */
    private final WireGuardDevice device;
    private final Clock clock;
    private final Timers timers;
    private final IndexTable indices;
    private final Handshakes handshakes;
    private final Outbound outbound;
    private java.util.concurrent.ScheduledExecutorService ticker;

    TimerLoop(WireGuardDevice device, Clock clock, Timers timers, IndexTable indices, Handshakes handshakes, Outbound outbound) {
        this.device = device;
        this.clock = clock;
        this.timers = timers;
        this.indices = indices;
        this.handshakes = handshakes;
        this.outbound = outbound;
    }

    void start() {
        ticker = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "wireguard-timers");
            t.setDaemon(true);
            return t;
        });
        long tick = timers.tick().toMillis();
        ticker.scheduleWithFixedDelay(this::tick, tick, tick, java.util.concurrent.TimeUnit.MILLISECONDS);
    }

    @Override
    public void close() {
        if (ticker != null) {
            ticker.shutdownNow();
        }
    }

    /** The timer state machine of whitepaper section 6, evaluated for every peer each tick. */
    private void tick() {
        Instant now = clock.instant();
        for (Peer peer : device.livePeers()) {
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
                        device.drop("handshake gave up");
                    }
                    peer.queue.clear();
                }
            } else {
                handshakes.sendInitiation(peer, now);
            }
        }
        Keypair current = peer.current;
        Instant received = peer.dataReceivedUnanswered;
        if (received != null && current != null && timers.usable(current, now)
                && Duration.between(received, now).compareTo(timers.keepaliveTimeout()) >= 0) {
            outbound.sendKeepalive(peer, current, now); // passive keepalive
        }
        Instant sent = peer.dataSentUnanswered;
        if (sent != null && Duration.between(sent, now).compareTo(timers.keepaliveTimeout().plus(timers.rekeyTimeout())) >= 0) {
            // Data went out and nothing came back: the session may be dead on the other side.
            peer.dataSentUnanswered = null;
            handshakes.initiateIfDue(peer, "data sent and nothing came back: the session may be dead");
        }
        Duration persistent = peer.persistentKeepalive != null ? peer.persistentKeepalive : timers.persistentKeepalive();
        if (!persistent.isZero() && Duration.between(peer.lastSent, now).compareTo(persistent) >= 0) {
            if (current != null && timers.usable(current, now)) {
                outbound.sendKeepalive(peer, current, now);
            } else {
                handshakes.initiateIfDue(peer, "persistent keepalive without a usable session");
            }
        }
        Instant lastSession = peer.lastNewSession;
        if (lastSession != null && Duration.between(lastSession, now).compareTo(timers.zeroKeysAfter()) >= 0) {
            indices.retire(peer.current);
            indices.retire(peer.previous);
            indices.retire(peer.next);
            peer.eraseKeys();
            peer.lastNewSession = null;
        }
    }
}
