package io.cloudbridge.control.node.internal;

import com.google.protobuf.ByteString;
import io.cloudbridge.api.net.IpPrefix;
import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.api.overlay.OverlayAddress;
import io.cloudbridge.api.overlay.OverlayDevice;
import io.cloudbridge.api.overlay.OverlayPeer;
import io.cloudbridge.api.overlay.OverlayPeers;
import io.cloudbridge.control.v1.ControlServiceGrpc;
import io.cloudbridge.control.v1.NodeToken;
import io.cloudbridge.control.v1.Peer;
import io.cloudbridge.control.v1.RefreshTokenRequest;
import io.cloudbridge.control.v1.RefreshTokenResponse;
import io.cloudbridge.control.v1.RegisterRequest;
import io.cloudbridge.control.v1.RegisterResponse;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.lang.annotation.Annotation;
import java.lang.reflect.Proxy;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * What the control client's unit tests stand the roles on instead of a relay: a scheduler that
 * queues instead of running, so that a test steps the session by hand and reads every wait it
 * chose; a stream that records what goes into it; an overlay and its peer list that record what
 * they are told.
 */
final class ControlTestKit {
    private ControlTestKit() {
    }

    /** Always the smallest value a bound allows: the shortest wait a jittered backoff can choose. */
    static final Random LOWEST = new Random() {
        @Override
        public long nextLong(long bound) {
            return 0;
        }
    };

    /** Always the largest value a bound allows: the longest wait a jittered backoff can choose. */
    static final Random HIGHEST = new Random() {
        @Override
        public long nextLong(long bound) {
            return bound - 1;
        }
    };

    static NodeKey key(int fill) {
        byte[] k = new byte[NodeKey.LENGTH];
        Arrays.fill(k, (byte) fill);
        return NodeKey.of(k);
    }

    static Peer peer(String nodeId, NodeKey key, String hostname, String... overlayAddresses) {
        return Peer.newBuilder().setNodeId(nodeId).setHostname(hostname)
                .setWireguardPublicKey(key == null ? ByteString.copyFrom(new byte[31]) : ByteString.copyFrom(key.toBytes()))
                .addAllOverlayAddresses(List.of(overlayAddresses)).build();
    }

    static RegisterResponse registered(String nodeId) {
        return RegisterResponse.newBuilder().setNodeId(nodeId).setTenant("acme")
                .setIpv4Address("100.64.0.1/10").setIpv6Address("fd7a:115c:a1e0::1/48").build();
    }

    /**
     * The relay's control service as far as sign-in goes: Register and RefreshToken, on loopback
     * without TLS, each answered with a new token, or refused with {@link #refusal} while it is set.
     * The node's channel to it is {@link #channel}.
     */
    static final class FakeRelay implements AutoCloseable {
        volatile Status refusal;
        final ManagedChannel channel;
        private final Server server;

        FakeRelay() throws IOException {
            server = NettyServerBuilder.forAddress(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
                    .addService(new ControlServiceGrpc.ControlServiceImplBase() {
                        @Override
                        public void register(RegisterRequest request, StreamObserver<RegisterResponse> answer) {
                            answer(answer, registered("node-1").toBuilder().setToken(token()).build());
                        }

                        @Override
                        public void refreshToken(RefreshTokenRequest request, StreamObserver<RefreshTokenResponse> answer) {
                            answer(answer, RefreshTokenResponse.newBuilder().setToken(token()).build());
                        }
                    }).build().start();
            channel = NettyChannelBuilder.forAddress(InetAddress.getLoopbackAddress().getHostAddress(), server.getPort()).usePlaintext()
                    .build();
        }

        private <T> void answer(StreamObserver<T> answer, T accepted) {
            Status refused = refusal;
            if (refused != null) {
                answer.onError(refused.asRuntimeException());
                return;
            }
            answer.onNext(accepted);
            answer.onCompleted();
        }

        private static NodeToken token() {
            return NodeToken.newBuilder().setJwt("jwt").setRefreshToken("refresh").setExpiresAtEpochSeconds(Instant.now().getEpochSecond() + 3600)
                    .build();
        }

        @Override
        public void close() {
            channel.shutdownNow();
            server.shutdownNow();
        }
    }

    /** A framework that takes any service registered (the home relay a registration publishes) and does nothing with it. */
    static org.osgi.framework.BundleContext acceptingContext() {
        ClassLoader loader = ControlTestKit.class.getClassLoader();
        Object registration = Proxy.newProxyInstance(loader, new Class<?>[] {org.osgi.framework.ServiceRegistration.class},
                (proxy, method, args) -> null);
        return (org.osgi.framework.BundleContext) Proxy.newProxyInstance(loader, new Class<?>[] {org.osgi.framework.BundleContext.class},
                (proxy, method, args) -> method.getName().equals("registerService") ? registration : null);
    }

    /** What an auth counter ({@code cloudbridge.auth.*}) says over all its outcomes and reasons. */
    static double authTotal(MeterRegistry registry, String name) {
        return registry.get(name).functionCounters().stream().mapToDouble(FunctionCounter::count).sum();
    }

    /** What an auth counter ({@code cloudbridge.auth.*}) says for this outcome and reason. */
    static double authCount(MeterRegistry registry, String name, String outcome, String reason) {
        return registry.get(name).tags("outcome", outcome, "reason", reason).functionCounter().count();
    }

    /** A session as activation leaves it, on a queueing scheduler and without a channel. */
    static ControlSession session(Path stateFolder, NodeControlConfig config, QueueingScheduler scheduler) {
        ControlSession session = new ControlSession();
        session.config = config;
        session.stateFolder = stateFolder;
        // The runtime's own environment (the kernel's), writing secrets as a daemon does.
        session.environment = new io.cloudbridge.kernel.internal.environment.DaemonEnvironment(
                java.util.Map.of("cloudbridge.state", stateFolder.toString())::get);
        session.pin = new RelayPin(config.relayFingerprint(), stateFolder.resolve("relay-pin"), session.environment);
        session.scheduler = scheduler;
        return session;
    }

    static NodeControlConfig config(String relay, String hostname, String preAuthKeyFile, int maxBackoffSeconds, String... transports) {
        return new NodeControlConfig() {
            @Override
            public Class<? extends Annotation> annotationType() {
                return NodeControlConfig.class;
            }

            @Override
            public String relay() {
                return relay;
            }

            @Override
            public String relayFingerprint() {
                return "sha256:" + "ab".repeat(32);
            }

            @Override
            public String preAuthKeyFile() {
                return preAuthKeyFile;
            }

            @Override
            public String hostname() {
                return hostname;
            }

            @Override
            public int maxBackoffSeconds() {
                return maxBackoffSeconds;
            }

            @Override
            public String[] transports() {
                return transports;
            }
        };
    }

    /**
     * Keeps what it is asked to run, with the wait asked for, and runs none of it. A scheduled task
     * gets a real future (due in a day) so that a role can cancel it and the test can see that.
     */
    static final class QueueingScheduler extends ScheduledThreadPoolExecutor {
        record Task(Runnable command, long delayMillis, ScheduledFuture<?> future) {
        }

        /** gRPC's threads may add to it too, when a test opens a real call. */
        final List<Task> tasks = Collections.synchronizedList(new ArrayList<>());

        QueueingScheduler() {
            super(1);
        }

        @Override
        public ScheduledFuture<?> schedule(Runnable command, long delay, TimeUnit unit) {
            ScheduledFuture<?> future = super.schedule(() -> { }, 1, TimeUnit.DAYS);
            tasks.add(new Task(command, unit.toMillis(delay), future));
            return future;
        }

        @Override
        public void execute(Runnable command) {
            tasks.add(new Task(command, 0, null));
        }

        /** The one task queued; fails when there is not exactly one. */
        Task only() {
            if (tasks.size() != 1) {
                throw new AssertionError("expected one task, not " + tasks.size() + ": " + tasks);
            }
            return tasks.get(0);
        }

        /** Runs the oldest task queued, as the scheduler thread would. */
        void runNext() {
            tasks.remove(0).command().run();
        }
    }

    /** One side of a stream: keeps what is sent into it and whether it was cancelled; can be made to break. */
    static final class RecordingStream<T> extends ClientCallStreamObserver<T> {
        final List<T> sent = new ArrayList<>();
        String cancelled;
        RuntimeException breakOnSend;

        @Override
        public void onNext(T value) {
            if (breakOnSend != null) {
                throw breakOnSend;
            }
            sent.add(value);
        }

        @Override
        public void cancel(String message, Throwable cause) {
            cancelled = message;
        }

        @Override
        public void onError(Throwable t) {
        }

        @Override
        public void onCompleted() {
        }

        @Override
        public boolean isReady() {
            return true;
        }

        @Override
        public void setOnReadyHandler(Runnable onReadyHandler) {
        }

        @Override
        public void disableAutoInboundFlowControl() {
        }

        @Override
        public void request(int count) {
        }

        @Override
        public void setMessageCompression(boolean enable) {
        }
    }

    /** The overlay's peer list: keeps each set of addresses and peers it is told. */
    static final class RecordingOverlayPeers implements OverlayPeers {
        record Applied(List<OverlayAddress> ownAddresses, List<OverlayPeer> peers) {
        }

        final List<Applied> applied = new ArrayList<>();
        RuntimeException refusal;

        @Override
        public void apply(List<OverlayAddress> ownAddresses, List<OverlayPeer> peers) {
            if (refusal != null) {
                throw refusal;
            }
            applied.add(new Applied(ownAddresses, peers));
        }
    }

    /** An interface with one key now and, optionally, a former one it can still prove with. */
    static final class FakeOverlay implements OverlayDevice {
        volatile NodeKey key;
        NodeKey formerKey;
        byte[] proof = {1, 2, 3};
        NodeKey provedWith;
        NodeKey verifier;
        byte[] provedMessage;

        FakeOverlay(NodeKey key) {
            this.key = key;
        }

        @Override
        public String name() {
            return "cb0";
        }

        @Override
        public NodeKey publicKey() {
            return key;
        }

        @Override
        public boolean userspace() {
            return true;
        }

        @Override
        public int mtu() {
            return 1280;
        }

        @Override
        public List<IpPrefix> addresses() {
            return List.of();
        }

        @Override
        public List<IpPrefix> routes() {
            return List.of();
        }

        @Override
        public Optional<byte[]> proveKey(NodeKey key, NodeKey verifierKey, byte[] message) {
            if (!key.equals(formerKey)) {
                return Optional.empty();
            }
            provedWith = key;
            verifier = verifierKey;
            provedMessage = message;
            return Optional.of(proof);
        }
    }
}
