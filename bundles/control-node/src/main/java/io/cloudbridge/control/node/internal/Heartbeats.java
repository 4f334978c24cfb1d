package io.cloudbridge.control.node.internal;

import io.cloudbridge.api.overlay.OverlayDevice;
import io.cloudbridge.control.v1.HeartbeatRequest;
import io.cloudbridge.control.v1.HeartbeatResponse;
import io.cloudbridge.control.v1.NodeStatus;
import io.grpc.StatusRuntimeException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Heartbeats while the node is registered: the relay learns the node is alive (and how many peers
 * it holds), and says when it wants the next one. Each beat also checks the overlay's key, which
 * the interface can change in place without its service being bound again.
 */
final class Heartbeats {
    private final ControlSession session;
    private final NetworkMap map;
    /** What a key the node did not register with sets off: a registration under the new key. */
    private final Consumer<OverlayDevice> keyChanged;

    /** The next heartbeat: one chain, however often the node registers again. Scheduler thread only. */
    private ScheduledFuture<?> nextHeartbeat;

    Heartbeats(ControlSession session, NetworkMap map, Consumer<OverlayDevice> keyChanged) {
        this.session = session;
        this.map = map;
        this.keyChanged = keyChanged;
    }

    void heartbeat() {
        if (session.registration == null) {
            return;
        }
        OverlayDevice device = session.overlay;
        if (device != null && session.nodeKey != null && !session.nodeKey.equals(device.publicKey())) {
            keyChanged.accept(device); // registers again; its own heartbeats follow
            return;
        }
        try {
            HeartbeatResponse r = session.blocking().withCallCredentials(session.bearer()).heartbeat(
                    HeartbeatRequest.newBuilder().setStatus(NodeStatus.newBuilder().putCounters("peers", map.size())).build());
            schedule(Math.max(1, r.getNextHeartbeatSeconds()));
        } catch (StatusRuntimeException e) {
            schedule(5);
        }
    }

    /** The next heartbeat, replacing any already due: a registration starts the chain afresh. */
    void schedule(long seconds) {
        ScheduledFuture<?> previous = nextHeartbeat;
        if (previous != null) {
            previous.cancel(false);
        }
        nextHeartbeat = session.scheduler.schedule(this::heartbeat, seconds, TimeUnit.SECONDS);
    }
}
