package io.cloudbridge.control.relay.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.util.concurrent.ListenableFuture;
import com.google.protobuf.ByteString;
import io.cloudbridge.control.v1.ControlServiceGrpc;
import io.cloudbridge.control.v1.HeartbeatRequest;
import io.cloudbridge.control.v1.NetworkMapUpdate;
import io.cloudbridge.control.v1.NodeInfo;
import io.cloudbridge.control.v1.RefreshTokenRequest;
import io.cloudbridge.control.v1.RefreshTokenResponse;
import io.cloudbridge.control.v1.RegisterRequest;
import io.cloudbridge.control.v1.RegisterResponse;
import io.cloudbridge.control.v1.WatchNetworkMapRequest;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * What an authenticated caller (a holder of a reusable pre-auth key or of a node token of one
 * tenant) can make the control plane do (issue 23, item 5): registrations, renewals and map opens
 * are held to budgets per node, per tenant and per pre-auth key, answered RESOURCE_EXHAUSTED with
 * a retry hint; registrations wait in a bounded queue, and waiting ones hold no thread of the
 * relay's bounded pool. The relay's clock is moved instead of waiting out a minute.
 */
class ControlLimitsTest {
    private static final Metadata.Key<String> PUSHBACK = Metadata.Key.of("grpc-retry-pushback-ms", Metadata.ASCII_STRING_MARSHALLER);

    private RelayFixture relay;
    private ManagedChannel channel;

    private void start(Consumer<RelayFixture.Config> limits) throws Exception {
        RelayFixture.Config config = new RelayFixture.Config();
        limits.accept(config);
        relay = new RelayFixture(config);
        channel = relay.channel();
    }

    @AfterEach
    void stop() throws Exception {
        if (relay != null) {
            CountDownLatch held = relay.holdFlushes;
            if (held != null) {
                held.countDown();
            }
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            relay.close();
        }
    }

    /** A refusal for being over a budget: RESOURCE_EXHAUSTED, saying which, with a positive retry hint. */
    private static StatusRuntimeException assertOverBudget(String which, Runnable call) {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, call::run);
        assertOverBudget(which, e);
        return e;
    }

    private static void assertOverBudget(String which, StatusRuntimeException e) {
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, e.getStatus().getCode(), String.valueOf(e.getStatus()));
        assertTrue(e.getStatus().getDescription().contains(which), e.getStatus().getDescription());
        String pushback = e.getTrailers() == null ? null : e.getTrailers().get(PUSHBACK);
        assertNotNull(pushback, "a retry hint");
        assertTrue(Long.parseLong(pushback) > 0, pushback);
    }

    @Test
    void aNodeThatLoopsRegisterIsHeldToItsOwnBudget() throws Exception {
        start(c -> c.registrationsPerNodePerMinute = 5);
        String key = relay.preAuthKey("loop", true);
        byte[] nodeKey = RelayFixture.randomKey();
        RegisterResponse node = RelayFixture.register(channel, key, nodeKey, "looper");
        // The attack: sign in again and again with the node's own token, each one a write and a flush.
        String jwt = node.getToken().getJwt();
        for (int i = 1; i < 5; i++) {
            jwt = RelayFixture.registerWithToken(channel, jwt, nodeKey, "looper").getToken().getJwt();
        }
        String last = jwt;
        assertOverBudget("registrations of this node", () -> RelayFixture.registerWithToken(channel, last, nodeKey, "looper"));
        // Nor with the pre-auth key under the same key (refused as the node's, not let in as new).
        assertOverBudget("registrations of this node", () -> RelayFixture.register(channel, key, nodeKey, "looper"));
        // The rest of the tenant is not held by one node's loop.
        RelayFixture.register(channel, key, RelayFixture.randomKey(), "neighbour");
        // A minute later the node has its budget back.
        relay.clock.advance(Duration.ofSeconds(60));
        RelayFixture.registerWithToken(channel, last, nodeKey, "looper");
    }

    @Test
    void aReusablePreAuthKeyAndItsTenantAreHeldToTheirBudgets() throws Exception {
        start(c -> {
            c.registrationsPerPreAuthKeyPerMinute = 5;
            c.registrationsPerTenantPerMinute = 8;
        });
        // The attack: a reusable key registering fresh keys until the tenant's address block is full.
        String first = relay.preAuthKey("fill", true);
        for (int i = 0; i < 5; i++) {
            RelayFixture.register(channel, first, RelayFixture.randomKey(), "filler-" + i);
        }
        assertOverBudget("registrations with this pre-auth key", () -> RelayFixture.register(channel, first, RelayFixture.randomKey(), "x"));
        // Another key of the tenant: the tenant's budget (8) has 3 left.
        String second = relay.preAuthKey("fill", true);
        for (int i = 0; i < 3; i++) {
            RelayFixture.register(channel, second, RelayFixture.randomKey(), "second-" + i);
        }
        assertOverBudget("registrations in this tenant", () -> RelayFixture.register(channel, second, RelayFixture.randomKey(), "y"));
        assertEquals(8, relay.relay.state().nodes("fill").size(), "the refused ones were not written");
        // A one-time key refused for the tenant's budget is not spent by the refusal.
        String once = relay.preAuthKey("fill", false);
        byte[] patient = RelayFixture.randomKey();
        assertOverBudget("registrations in this tenant", () -> RelayFixture.register(channel, once, patient, "patient"));
        // Another tenant is untouched.
        RelayFixture.register(channel, relay.preAuthKey("bystander", false), RelayFixture.randomKey(), "bystander");
        relay.clock.advance(Duration.ofSeconds(60));
        assertEquals("fill", RelayFixture.register(channel, once, patient, "patient").getTenant());
    }

    @Test
    void renewalsAreHeldToTheNodesBudgetAndARefusedRefreshTokenIsNotSpent() throws Exception {
        start(c -> c.renewalsPerNodePerMinute = 3);
        RegisterResponse node = RelayFixture.register(channel, relay.preAuthKey("renew", true), RelayFixture.randomKey(), "renewer");
        var stub = ControlServiceGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS);
        String refresh = node.getToken().getRefreshToken();
        for (int i = 0; i < 3; i++) {
            refresh = stub.refreshToken(RefreshTokenRequest.newBuilder().setRefreshToken(refresh).build()).getToken().getRefreshToken();
        }
        String kept = refresh;
        assertOverBudget("renewals of this node", () -> stub.refreshToken(RefreshTokenRequest.newBuilder().setRefreshToken(kept).build()));
        relay.clock.advance(Duration.ofSeconds(60));
        RefreshTokenResponse renewed = stub.refreshToken(RefreshTokenRequest.newBuilder().setRefreshToken(kept).build());
        assertTrue(!renewed.getToken().getJwt().isEmpty());
    }

    @Test
    void mapOpensAreHeldToTheNodesAndTheTenantsBudgets() throws Exception {
        start(c -> {
            c.mapOpensPerNodePerMinute = 3;
            c.mapOpensPerTenantPerMinute = 5;
        });
        String key = relay.preAuthKey("maps", true);
        RegisterResponse a = RelayFixture.register(channel, key, RelayFixture.randomKey(), "a");
        RegisterResponse b = RelayFixture.register(channel, key, RelayFixture.randomKey(), "b");
        // The attack: open map streams in a loop, each a full map of the tenant.
        for (int i = 0; i < 3; i++) {
            assertTrue(openMap(a).next().hasFull());
        }
        assertOverBudget("map opens of this node", () -> openMap(a).next());
        assertTrue(openMap(b).next().hasFull());
        assertTrue(openMap(b).next().hasFull());
        assertOverBudget("map opens in this tenant", () -> openMap(b).next());
        relay.clock.advance(Duration.ofSeconds(60));
        assertTrue(openMap(a).next().hasFull());
    }

    private Iterator<NetworkMapUpdate> openMap(RegisterResponse node) {
        return ControlServiceGrpc.newBlockingStub(channel).withCallCredentials(RelayFixture.bearer(node.getToken().getJwt()))
                .withDeadlineAfter(10, TimeUnit.SECONDS).watchNetworkMap(WatchNetworkMapRequest.getDefaultInstance());
    }

    /**
     * With the writer held in a flush, registrations fill its queue, and the next ones are refused
     * at once instead of piling up; waiting ones hold none of the relay's few threads, so other
     * calls are still answered; once the flush goes through, the queued ones are written.
     */
    @Test
    void registrationsWaitInABoundedQueueAndHoldNoThread() throws Exception {
        start(c -> {
            c.registrationQueue = 4; // of one tenant: 3, the rest kept for other tenants
            c.controlThreads = 2;
        });
        String key = relay.preAuthKey("queue", true);
        RegisterResponse bystander = RelayFixture.register(channel, key, RelayFixture.randomKey(), "bystander");
        relay.holdFlushes = new CountDownLatch(1);
        var async = ControlServiceGrpc.newFutureStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
        List<ListenableFuture<RegisterResponse>> calls = new ArrayList<>();
        calls.add(async.register(request(key, "held")));
        until("the writer held in its flush", () -> relay.flushesHeld.get() > 0);
        for (int i = 0; i < 8; i++) {
            calls.add(async.register(request(key, "queued-" + i)));
        }
        until("a registration refused for the full queue", () -> calls.stream().anyMatch(ControlLimitsTest::refused));
        StatusRuntimeException full = calls.stream().filter(ControlLimitsTest::refused).findFirst().map(ControlLimitsTest::failure)
                .orElseThrow();
        assertOverBudget("registrations waiting", full);
        // Ten registrations waiting or refused, two threads: the relay still answers.
        ControlServiceGrpc.newBlockingStub(channel).withCallCredentials(RelayFixture.bearer(bystander.getToken().getJwt()))
                .withDeadlineAfter(10, TimeUnit.SECONDS).heartbeat(HeartbeatRequest.getDefaultInstance());
        long threads = Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().startsWith("relay-control-")).count();
        assertTrue(threads > 0 && threads <= 2, "the control service's threads: " + threads);

        relay.holdFlushes.countDown();
        int written = 0;
        for (ListenableFuture<RegisterResponse> call : calls) {
            try {
                call.get(30, TimeUnit.SECONDS);
                written++;
            } catch (ExecutionException e) {
                assertEquals(Status.Code.RESOURCE_EXHAUSTED, Status.fromThrowable(e.getCause()).getCode());
            }
        }
        assertTrue(written >= 3 && written < calls.size(), "the held one and the queued ones were written: " + written);
    }

    private static RegisterRequest request(String preAuthKey, String hostname) {
        return RegisterRequest.newBuilder().setPreAuthKey(preAuthKey).setNode(NodeInfo.newBuilder()
                .setWireguardPublicKey(ByteString.copyFrom(RelayFixture.randomKey())).setHostname(hostname).setOs("linux/amd64")).build();
    }

    private static boolean refused(ListenableFuture<RegisterResponse> call) {
        return call.isDone() && failure(call) != null;
    }

    private static StatusRuntimeException failure(ListenableFuture<RegisterResponse> call) {
        try {
            call.get();
            return null;
        } catch (ExecutionException e) {
            return e.getCause() instanceof StatusRuntimeException s ? s : null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    private static void until(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not within 10 s: " + what);
            }
            java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
        }
    }
}
