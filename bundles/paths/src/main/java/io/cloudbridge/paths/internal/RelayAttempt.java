package io.cloudbridge.paths.internal;

import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.api.transport.PacketReceiver;
import io.cloudbridge.api.transport.PacketSession;
import io.cloudbridge.api.transport.RelayTransport;
import io.cloudbridge.api.transport.TransportState;
import java.nio.ByteBuffer;
import java.util.function.Consumer;

/**
 * One transport's attempt at a session to the home relay, then that session: what it receives
 * goes to the overlay, and each change of its state has the path layer decide again.
 */
final class RelayAttempt implements PacketReceiver {
    final RelayTransport transport;
    final long startedNanos = System.nanoTime();
    volatile PacketSession session;
    volatile boolean ended;
    /** Where what the session carries goes: the engine's binding of the moment. */
    private final Inbound inbound;
    /** Has the path layer decide again on its decisions thread, saying why. */
    private final Consumer<String> decide;

    /** The engine's side of the session's packets (see {@link PacketReceiver#onPacketInBurst}). */
    interface Inbound {
        void deliver(ByteBuffer packet);

        void deliverInBurst(ByteBuffer packet);

        void burstEnd();
    }

    RelayAttempt(RelayTransport transport, Inbound inbound, Consumer<String> decide) {
        this.transport = transport;
        this.inbound = inbound;
        this.decide = decide;
    }

    @Override
    public void onPacket(NodeKey source, ByteBuffer packet) {
        inbound.deliver(packet);
    }

    @Override
    public void onPacketInBurst(NodeKey source, ByteBuffer packet) {
        inbound.deliverInBurst(packet);
    }

    @Override
    public void onBurstEnd() {
        inbound.burstEnd();
    }

    @Override
    public void onStateChanged(PacketSession s, TransportState state, String reason) {
        decide.accept("session over " + transport.name() + " " + state.name().toLowerCase(java.util.Locale.ROOT)
                + (reason.isEmpty() ? "" : ": " + reason));
    }

    boolean connected() {
        PacketSession s = session;
        return !ended && s != null && s.state() == TransportState.CONNECTED;
    }

    /** Ends the attempt, and closes its session if it has one. */
    void end() {
        ended = true;
        PacketSession s = session;
        if (s != null) {
            s.close();
        }
    }
}
