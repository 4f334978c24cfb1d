package io.cloudbridge.itest;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;

import io.cloudbridge.control.v1.ControlServiceGrpc;
import io.cloudbridge.control.v1.HeartbeatRequest;
import io.cloudbridge.control.v1.HeartbeatResponse;
import io.cloudbridge.control.v1.NetworkMapUpdate;
import io.cloudbridge.control.v1.NodeStatus;
import io.cloudbridge.control.v1.Peer;
import io.cloudbridge.control.v1.WatchNetworkMapRequest;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.InsecureServerCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.Bundle;
import org.osgi.framework.FrameworkUtil;

/**
 * gRPC inside the framework, not on a test class path: the re-bundled gRPC finds its server and
 * channel providers, the DNS name resolver and the pick-first balancer through its merged
 * META-INF/services, and a unary and a server-streaming call of the generated control-plane API go
 * over real HTTP/2 on loopback.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class GrpcInFelixIT {

    @Configuration
    public Option[] config() throws Exception {
        return RuntimeTestSupport.runtime(List.of("core", "grpc"),
                RuntimeTestSupport.DEFAULT_YAML.replace("features: [core, shell]", "features: [core, grpc]"));
    }

    @Test
    public void unaryAndStreamingCallsInsideTheFramework() throws Exception {
        Bundle grpc = FrameworkUtil.getBundle(Server.class);
        assertNotNull("io.grpc comes from a bundle, not the class path", grpc);
        assertEquals("io.cloudbridge.grpc", grpc.getSymbolicName());
        assertEquals("io.cloudbridge.control.proto", FrameworkUtil.getBundle(ControlServiceGrpc.class).getSymbolicName());

        ControlServiceGrpc.ControlServiceImplBase service = new ControlServiceGrpc.ControlServiceImplBase() {
            @Override
            public void heartbeat(HeartbeatRequest request, StreamObserver<HeartbeatResponse> reply) {
                reply.onNext(HeartbeatResponse.newBuilder()
                        .setNextHeartbeatSeconds((int) request.getStatus().getCountersOrDefault("peers", -1)).build());
                reply.onCompleted();
            }

            @Override
            public void watchNetworkMap(WatchNetworkMapRequest request, StreamObserver<NetworkMapUpdate> updates) {
                for (int v = 1; v <= 3; v++) {
                    updates.onNext(NetworkMapUpdate.newBuilder().setVersion(v)
                            .setUpsert(Peer.newBuilder().setNodeId("n" + v)).build());
                }
                updates.onCompleted();
            }
        };
        // Both builders are found through ServiceLoader (ServerProvider, ManagedChannelProvider).
        Server server = Grpc.newServerBuilderForPort(0, InsecureServerCredentials.create()).addService(service).build().start();
        ManagedChannel channel = Grpc.newChannelBuilder("dns:///127.0.0.1:" + server.getPort(), InsecureChannelCredentials.create())
                .build();
        try {
            ControlServiceGrpc.ControlServiceBlockingStub stub = ControlServiceGrpc.newBlockingStub(channel)
                    .withDeadlineAfter(10, TimeUnit.SECONDS);
            HeartbeatResponse answer = stub.heartbeat(HeartbeatRequest.newBuilder()
                    .setStatus(NodeStatus.newBuilder().putCounters("peers", 7)).build());
            assertEquals(7, answer.getNextHeartbeatSeconds());

            List<String> seen = new ArrayList<>();
            Iterator<NetworkMapUpdate> updates = stub.watchNetworkMap(WatchNetworkMapRequest.getDefaultInstance());
            updates.forEachRemaining(u -> seen.add(u.getVersion() + ":" + u.getUpsert().getNodeId()));
            assertEquals(List.of("1:n1", "2:n2", "3:n3"), seen);
        } finally {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }
}
