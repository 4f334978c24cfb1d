package io.cloudbridge.mesh.internal;

import io.cloudbridge.api.mesh.PathKind;
import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.api.overlay.EncryptedPacketInbound;
import io.cloudbridge.api.transport.PacketReceiver;
import io.cloudbridge.api.transport.PacketSession;
import io.cloudbridge.api.transport.RelayTransport;
import io.cloudbridge.api.transport.TransportState;
import java.nio.ByteBuffer;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * One transport's attempt at a session to the home relay, then that session: what it receives
 * goes to the overlay, and each change of its state has the path layer decide again.
 */
final class RelayAttempt implements PacketReceiver {
    final RelayTransport transport;
    final long startedNanos = System.nanoTime();
    volatile PacketSession session;
    volatile boolean ended;
    /** The path layer's current overlay inbound, read at each packet: it comes and goes with its bundle. */
    private final Supplier<EncryptedPacketInbound> inbound;
    /** Has the path layer decide again on its decisions thread, saying why. */
    private final Consumer<String> decide;

    RelayAttempt(RelayTransport transport, Supplier<EncryptedPacketInbound> inbound, Consumer<String> decide) {
        this.transport = transport;
        this.inbound = inbound;
        this.decide = decide;
    }

    @Override
    public void onPacket(NodeKey source, ByteBuffer packet) {
        EncryptedPacketInbound in = inbound.get();
        if (in != null) {
            in.receive(packet, PathKind.RELAY);
        }
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
