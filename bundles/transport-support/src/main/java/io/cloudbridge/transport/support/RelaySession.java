package io.cloudbridge.transport.support;

import io.cloudbridge.boot.log.Correlation;
import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.api.transport.PacketReceiver;
import io.cloudbridge.api.transport.PacketSession;
import io.cloudbridge.api.transport.RelayBusyException;
import io.cloudbridge.api.transport.RelayEndpoint;
import io.cloudbridge.api.transport.TransportCounters;
import io.cloudbridge.api.transport.TransportState;
import io.cloudbridge.transport.support.internal.RelaySessionMeters;
import io.netty.util.concurrent.EventExecutorGroup;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A node's session with its relay that keeps itself connected. The first connection decides:
 * {@link #open()} completes when it is up and the relay accepted the node, or fails with the
 * reason. After that a lost connection is dialled again with jittered exponential backoff; a loss
 * for a reason of policy (the relay refused or removed the node, or a newer session of it took
 * over) ends the session for good, as does {@link #close()}. A relay that refuses for now and
 * says when to come back ({@link #refusedForNow}) is dialled again then.
 *
 * <p>A transport supplies {@link #dial()} (one connection attempt, which reports back with
 * {@link #connected}, {@link #received} and {@link #lost}) and {@link #disconnect()}.
 */
public abstract class RelaySession implements PacketSession {
    /**
     * The id of the dial under way (its flow: docs/architecture.md, "One id per flow"): the path
     * attempt's that opened the session for its first dial, a new one for each redial; the
     * transport sends it to the relay, and this session's own lines carry it.
     */
    private volatile String flow = Correlation.current();

    private static final Logger LOG = LoggerFactory.getLogger(RelaySession.class);

    protected final RelayEndpoint relay;
    private final PacketReceiver receiver;
    private final EventExecutorGroup timers;
    private final long minBackoffMillis;
    private final long maxBackoffMillis;
    private final CompletableFuture<PacketSession> opened = new CompletableFuture<>();
    private final LongAdder packetsReceived = new LongAdder();
    private final LongAdder bytesReceived = new LongAdder();
    private final LongAdder droppedNotConnected = new LongAdder();
    /** A burst was delivered and not ended yet; the connection's event loop only. */
    private boolean burstOpen;
    private volatile TransportState state = TransportState.CONNECTING;
    private volatile Outbox outbox;
    private volatile long rttNanos;
    private volatile boolean packetSizeSettled = true;
    private volatile boolean goingAway;
    private volatile Runnable whenEnded = () -> { };
    private int attempts;
    /** When the dial under way started, or -1 between dials (connected, or waiting to dial again): for the meters. */
    private final java.util.concurrent.atomic.AtomicLong dialStartedNanos = new java.util.concurrent.atomic.AtomicLong(-1);
    /** Busy refusals in a row; see BUSY_REFUSALS_HONOURED. */
    private int busyRefusals;
    /** How many busy refusals in a row are dialled again after just the asked wait. */
    private static final int BUSY_REFUSALS_HONOURED = 3;

    protected RelaySession(RelayEndpoint relay, PacketReceiver receiver, EventExecutorGroup timers, long minBackoffMillis,
            long maxBackoffMillis) {
        this.relay = relay;
        this.receiver = receiver;
        this.timers = timers;
        this.minBackoffMillis = minBackoffMillis;
        this.maxBackoffMillis = maxBackoffMillis;
    }

    /** Starts one connection attempt. */
    protected abstract void dial();

    /** Closes the current connection, if any, saying the node is leaving. */
    protected abstract void disconnect();

    /** Called once when the session ends for good, e.g. so that its transport forgets it. */
    public final void whenEnded(Runnable action) {
        this.whenEnded = action;
    }

    public final CompletableFuture<PacketSession> open() {
        if (timers.isShuttingDown()) {
            // The plugin is being removed while the node asks it for a session (a race the chaos
            // test found): fail plainly instead of handing Netty work it can only reject.
            lost("the transport is being removed", true);
            return opened;
        }
        dialStartedNanos.set(System.nanoTime());
        dial();
        return opened;
    }

    /** The connection is up and the relay accepted the node: packets go out through {@code out}. */
    protected final void connected(Outbox out, String description) {
        dialEnded(RelaySessionMeters.Outcome.ESTABLISHED);
        outbox = out;
        attempts = 0;
        busyRefusals = 0;
        goingAway = false;
        state = TransportState.CONNECTED;
        try (Correlation.Scope dialled = Correlation.open(flow)) {
            LOG.info("relay session {} connected over {} ({})", relay.name(), transportName(), description);
        }
        if (!opened.complete(this)) {
            receiver.onStateChanged(this, TransportState.CONNECTED, "");
        }
    }

    /** The packet size is a first cautious value until {@link #packetSizeFound()}: see {@link #packetSizeSettled()}. */
    protected final void packetSizeFinding() {
        packetSizeSettled = false;
    }

    /** The packet size is what the path carries: the node may now move its peers here. */
    protected final void packetSizeFound() {
        packetSizeSettled = true;
        if (state == TransportState.CONNECTED) {
            receiver.onStateChanged(this, TransportState.CONNECTED, "packet size found: " + maxPacketSize() + " bytes");
        }
    }

    @Override
    public final boolean packetSizeSettled() {
        return packetSizeSettled;
    }

    /** The relay said this connection ends soon: see {@link #goingAway()}. */
    protected final void relayGoingAway(String reason) {
        goingAway = true;
        LOG.info("relay session {} over {}: the relay is letting it go ({}); moving to another transport", relay.name(),
                transportName(), reason);
        receiver.onStateChanged(this, state, "relay going away: " + reason);
    }

    @Override
    public final boolean goingAway() {
        return goingAway;
    }

    /** A packet from {@code source}, delivered to the node. */
    protected final void received(NodeKey source, ByteBuffer packet) {
        packetsReceived.increment();
        bytesReceived.add(packet.remaining());
        receiver.onPacket(source, packet);
    }

    /**
     * A packet of the burst one read of the connection brought, delivered to the node, which may
     * hold what it made of it until {@link #burstEnded} (called on the same thread, at the read's
     * end: Netty's channelReadComplete). Decrypted TCP segments of a burst then reach the TUN
     * device as one large frame instead of a write each: the relayed path's receiving node spent
     * 31 CPU seconds per GB against the direct path's 11, most of it in writing them one by one.
     */
    protected final void receivedInBurst(NodeKey source, ByteBuffer packet) {
        packetsReceived.increment();
        bytesReceived.add(packet.remaining());
        burstOpen = true;
        receiver.onPacketInBurst(source, packet);
    }

    /**
     * The read that {@link #receivedInBurst} delivered is over; nothing when no burst is open. Also
     * called as the connection goes inactive: a read cut short by a close (Netty fires no
     * channelReadComplete for a connection it freed) must not leave packets held.
     */
    protected final void burstEnded() {
        if (burstOpen) {
            burstOpen = false;
            receiver.onBurstEnd();
        }
    }

    /** A keepalive's round trip. */
    protected final void measuredRtt(long nanos) {
        rttNanos = nanos;
    }

    /** The connection is gone: dial again later, or give up for good when {@code terminal}. */
    protected final void lost(String reason, boolean terminal) {
        lost(reason, terminal, null);
    }

    /**
     * The relay refused the connection for now and asked to be tried again after {@code retryAfter}
     * (a plugin of its restarting, its control plane busy): dialled again then, and the backoff does
     * not grow, since nothing is wrong with the path. A first connection refused so fails with a
     * {@link RelayBusyException} that carries the wait, so the node does not set the transport aside.
     */
    protected final void refusedForNow(String reason, Duration retryAfter) {
        lost(reason, false, retryAfter);
    }

    private void lost(String reason, boolean terminal, Duration retryAfter) {
        Outbox o = outbox;
        outbox = null;
        if (o != null) {
            o.discard();
        }
        if (state == TransportState.CLOSED || state == TransportState.FAILED) {
            return;
        }
        // Of a dial: the relay asked to come back later, or refused the node (only a relay's refusal
        // of the node ends a session for good while it dials); else the dial failed.
        dialEnded(retryAfter != null ? RelaySessionMeters.Outcome.BUSY
                : terminal ? RelaySessionMeters.Outcome.REFUSED : RelaySessionMeters.Outcome.FAILED);
        if (terminal || !opened.isDone()) {
            // The first connection decides: the caller learns why it failed and picks another transport.
            state = TransportState.FAILED;
            whenEnded.run();
            opened.completeExceptionally(retryAfter == null ? new java.io.IOException(reason) : new RelayBusyException(reason, retryAfter));
            receiver.onStateChanged(this, TransportState.FAILED, reason);
            return;
        }
        state = TransportState.RECONNECTING;
        receiver.onStateChanged(this, TransportState.RECONNECTING, reason);
        long delay;
        if (retryAfter != null && busyRefusals++ < BUSY_REFUSALS_HONOURED) {
            // What the relay asked, within this session's bounds, spread a little so that the nodes it
            // refused at once do not come back at once.
            long asked = Math.max(minBackoffMillis, Math.min(maxBackoffMillis, retryAfter.toMillis()));
            delay = asked + ThreadLocalRandom.current().nextLong(asked / 4 + 1);
        } else if (retryAfter != null) {
            // Still busy after a few tries (its database down, say): the backoff grows from the asked
            // wait, so that a relay's nodes do not keep a failing relay busy for the whole outage.
            long asked = Math.max(minBackoffMillis, Math.min(maxBackoffMillis, retryAfter.toMillis()));
            long backoff = Math.min(maxBackoffMillis, minBackoffMillis << Math.min(attempts++, 16));
            delay = Math.max(asked, backoff / 2 + ThreadLocalRandom.current().nextLong(backoff / 2 + 1));
        } else {
            long backoff = Math.min(maxBackoffMillis, minBackoffMillis << Math.min(attempts++, 16));
            delay = backoff / 2 + ThreadLocalRandom.current().nextLong(backoff / 2 + 1);
        }
        try (Correlation.Scope dialled = Correlation.open(flow)) {
            LOG.info("relay session {} over {} lost ({}); again in {} ms", relay.name(), transportName(), reason, delay);
        }
        if (timers.isShuttingDown()) {
            return; // the plugin is going: its sessions end with it, nothing is dialled again
        }
        timers.schedule(() -> {
            if (state == TransportState.RECONNECTING) {
                redial();
            }
        }, delay, TimeUnit.MILLISECONDS);
    }

    /** A dial after the first: a flow of its own, so that a reconnection days later is not filed under the first attempt. */
    private void redial() {
        flow = Correlation.newId("relay");
        try (Correlation.Scope dialling = Correlation.open(flow)) {
            LOG.debug("relay session {} dialled again over {}", relay.name(), transportName());
        }
        dialStartedNanos.set(System.nanoTime());
        dial();
    }

    /** The dial under way, if any (a loss of a connected session is none), ended with {@code outcome}. */
    private void dialEnded(RelaySessionMeters.Outcome outcome) {
        // Taken once: the transport's event loop and a timer may both end the same dial.
        long started = dialStartedNanos.getAndSet(-1);
        if (started >= 0) {
            RelaySessionMeters.dialEnded(transportName(), outcome, System.nanoTime() - started);
        }
    }

    /** The id of the dial under way, for the transport to send to the relay with its sign-in. */
    protected final String flow() {
        return flow;
    }

    /** Whether the session still wants to be connected (neither closed nor failed). */
    protected final boolean wanted() {
        return state != TransportState.CLOSED && state != TransportState.FAILED;
    }

    protected final Optional<Outbox> outbox() {
        return Optional.ofNullable(outbox);
    }

    @Override
    public final RelayEndpoint relay() {
        return relay;
    }

    @Override
    public final TransportState state() {
        return state;
    }

    @Override
    public final Optional<Duration> rtt() {
        long n = rttNanos;
        return n <= 0 ? Optional.empty() : Optional.of(Duration.ofNanos(n));
    }

    @Override
    public final TransportCounters counters() {
        Outbox o = outbox;
        java.util.Map<String, Long> reasons = new java.util.LinkedHashMap<>(o == null ? java.util.Map.of() : o.droppedByReason());
        long notConnected = droppedNotConnected.sum();
        if (notConnected > 0) {
            reasons.put("not connected", notConnected);
        }
        return new TransportCounters(o == null ? 0 : o.packets(), o == null ? 0 : o.bytes(), packetsReceived.sum(),
                bytesReceived.sum(), notConnected + (o == null ? 0 : o.dropped()), reasons);
    }

    @Override
    public final boolean send(NodeKey destination, ByteBuffer packet) {
        Outbox o = outbox;
        if (o == null) {
            droppedNotConnected.increment();
            return false;
        }
        return o.offer(destination, packet);
    }

    @Override
    public final void close() {
        if (state == TransportState.CLOSED) {
            return;
        }
        state = TransportState.CLOSED;
        whenEnded.run();
        opened.completeExceptionally(new java.io.IOException("closed"));
        disconnect();
        receiver.onStateChanged(this, TransportState.CLOSED, "");
    }
}
