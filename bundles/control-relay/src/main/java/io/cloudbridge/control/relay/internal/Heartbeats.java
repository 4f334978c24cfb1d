package io.cloudbridge.control.relay.internal;

import com.google.protobuf.ByteString;
import io.cloudbridge.api.ipam.AddressAllocator;
import io.cloudbridge.api.ipam.Lease;
import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.control.v1.HeartbeatRequest;
import io.cloudbridge.control.v1.HeartbeatResponse;
import io.cloudbridge.control.v1.NodeInfo;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Instant;
import java.util.List;

/**
 * A node's heartbeat: it says the node is alive and where it can be reached now. Endpoints that
 * changed go into the tenant's network map, so that its peers' map streams carry them.
 */
final class Heartbeats {
    private final RelayState state;
    private final AddressAllocator ipam;
    private final NetworkMaps maps;
    private final MapPeers peers;
    private final Clock clock;
    private final RelayConfig config;
    private final ControlRefusals refusals;

    Heartbeats(RelayState state, AddressAllocator ipam, NetworkMaps maps, MapPeers peers, Clock clock, RelayConfig config,
            ControlRefusals refusals) {
        this.state = state;
        this.ipam = ipam;
        this.maps = maps;
        this.peers = peers;
        this.clock = clock;
        this.config = config;
        this.refusals = refusals;
    }

    void heartbeat(HeartbeatRequest request, StreamObserver<HeartbeatResponse> reply) {
        NodeTokens.Claims claims = ControlService.NODE.get();
        try {
            List<String> endpoints = request.getStatus().getEndpointsList();
            NodeInfo probe = NodeInfo.newBuilder().setWireguardPublicKey(ByteString.copyFrom(new byte[NodeKey.LENGTH]))
                    .setHostname("x").addAllEndpoints(endpoints).build();
            String problem = NodeRegistration.invalid(probe);
            if (problem != null) {
                throw refusals.refuse(Status.INVALID_ARGUMENT, "bad status: " + problem, ControlService.remote(Context.current()));
            }
            Instant now = clock.instant();
            RelayState.Node node = state.node(claims.nodeId()).orElseThrow(
                    () -> refusals.refuse(Status.UNAUTHENTICATED, "node removed", ControlService.remote(Context.current())));
            state.updateEndpoints(node.id(), endpoints, now);
            if (!node.endpoints().equals(endpoints)) {
                Lease lease = ipam.lease(node.tenant(), NodeKey.parse(node.key())).orElse(null);
                maps.updatePeer(node.tenant(), peers.peer(new RelayState.Node(node.id(), node.tenant(), node.key(), node.hostname(), node.os(),
                        endpoints, node.created(), now, node.identity()), lease));
            }
            reply.onNext(HeartbeatResponse.newBuilder().setServerTimeEpochMillis(now.toEpochMilli())
                    .setNextHeartbeatSeconds(config.heartbeatSeconds()).build());
            reply.onCompleted();
        } catch (StatusRuntimeException e) {
            reply.onError(e);
        } catch (SQLException e) {
            reply.onError(Status.UNAVAILABLE.withDescription("the relay's database failed; try again").asRuntimeException());
        }
    }
}
