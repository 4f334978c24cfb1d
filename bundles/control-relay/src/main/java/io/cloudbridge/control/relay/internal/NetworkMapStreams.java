package io.cloudbridge.control.relay.internal;

import io.cloudbridge.control.v1.NetworkMapUpdate;
import io.cloudbridge.control.v1.WatchNetworkMapRequest;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.time.Clock;

/**
 * A node's stream of its tenant's network map. Its stages: the open is charged to the node and
 * its tenant (each open sends the whole map); the stream joins the tenant's watchers in
 * {@link NetworkMaps}, which sends the whole map and then every change; it is bound to the node's
 * token, so that revoking the token ends it; it ends when the node goes, or the binding ends it.
 */
final class NetworkMapStreams {
    private final NetworkMaps maps;
    private final Clock clock;
    private final RelayConfig config;
    private final ControlBudgets budgets;
    private final StreamBindings bindings;

    NetworkMapStreams(NetworkMaps maps, Clock clock, RelayConfig config, ControlBudgets budgets, StreamBindings bindings) {
        this.maps = maps;
        this.clock = clock;
        this.config = config;
        this.budgets = budgets;
        this.bindings = bindings;
    }

    void watchNetworkMap(WatchNetworkMapRequest request, StreamObserver<NetworkMapUpdate> updates) {
        NodeTokens.Claims node = ControlService.NODE.get();
        try {
            // Each open sends the tenant's whole map: a node reopening in a loop is held to its budget.
            budgets.charge(ControlService.remote(Context.current()), clock.instant(),
                    new CallBudgets.Charge("map/node/" + node.nodeId(), config.mapOpensPerNodePerMinute(), "map opens of this node"),
                    new CallBudgets.Charge("map/tenant/" + node.tenant(), config.mapOpensPerTenantPerMinute(), "map opens in this tenant"));
        } catch (StatusRuntimeException e) {
            ControlService.fail(updates, e);
            return;
        }
        ServerCallStreamObserver<NetworkMapUpdate> stream = (ServerCallStreamObserver<NetworkMapUpdate>) updates;
        java.util.concurrent.atomic.AtomicReference<CredentialRegistry.Bound> bound = new java.util.concurrent.atomic.AtomicReference<>();
        java.util.function.Consumer<Status> end = maps.watch(node.tenant(), node.nodeId(), stream,
                () -> StreamBindings.closeBinding(bound));
        // Bound after the watch is in place, so that a revocation at any moment finds something to end.
        bindings.bindStream(node, stream, bound, end);
    }
}
