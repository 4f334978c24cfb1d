package io.cloudbridge.control.relay.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.api.auth.CredentialRejectedException;
import io.cloudbridge.api.relay.CredentialRevocations;
import io.cloudbridge.control.v1.ControlServiceGrpc;
import io.cloudbridge.control.v1.NetworkMapUpdate;
import io.cloudbridge.control.v1.RefreshTokenRequest;
import io.cloudbridge.control.v1.RegisterResponse;
import io.cloudbridge.control.v1.SignalMessage;
import io.cloudbridge.control.v1.WatchNetworkMapRequest;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The relay's one revocation signal, against a real control service: a session bound to a node's
 * credential ends when the node is removed, rotates its key, or lets its token expire without
 * renewal; a session whose token check raced a removal is refused when it binds; and the control
 * plane's own streams (map, signalling) end the same way.
 */
class CredentialRevocationTest {
    private RelayFixture relay;
    private ManagedChannel channel;

    private void start(int tokenLifetimeSeconds) throws Exception {
        relay = new RelayFixture(RelayFixture.config(tokenLifetimeSeconds));
        channel = relay.channel();
    }

    @AfterEach
    void stop() throws Exception {
        if (channel != null) {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
        if (relay != null) {
            relay.close();
        }
    }

    /** A session as a listener has one: it records why it was told to end. */
    private static final class Session implements CredentialRevocations.Revocable {
        final BlockingQueue<String> ended = new LinkedBlockingQueue<>();

        @Override
        public void revoked(String reason) {
            ended.add(reason);
        }
    }

    /** A stream's end, as the client sees it. */
    private static final class Ends<T> implements StreamObserver<T> {
        final BlockingQueue<T> messages = new LinkedBlockingQueue<>();
        final BlockingQueue<Status> ended = new LinkedBlockingQueue<>();

        @Override
        public void onNext(T m) {
            messages.add(m);
        }

        @Override
        public void onError(Throwable t) {
            ended.add(Status.fromThrowable(t));
        }

        @Override
        public void onCompleted() {
            ended.add(Status.OK);
        }
    }

    private Ends<NetworkMapUpdate> watch(String token) throws InterruptedException {
        Ends<NetworkMapUpdate> w = new Ends<>();
        ControlServiceGrpc.newStub(channel).withCallCredentials(RelayFixture.bearer(token))
                .watchNetworkMap(WatchNetworkMapRequest.getDefaultInstance(), w);
        assertTrue(w.messages.poll(5, TimeUnit.SECONDS) != null, "the full map: the stream is open");
        return w;
    }

    private Ends<SignalMessage> signal(String token) {
        Ends<SignalMessage> s = new Ends<>();
        ControlServiceGrpc.newStub(channel).withCallCredentials(RelayFixture.bearer(token)).signal(s);
        return s;
    }

    private CredentialRegistry registry() {
        return relay.relay.service().credentials();
    }

    @Test
    void removingANodeEndsEverySessionItsTokenOpenedAndOneThatRacedTheRemovalIsRefused() throws Exception {
        start(900);
        RegisterResponse n = RelayFixture.register(channel, relay.preAuthKey("acme", true), RelayFixture.randomKey(), "gone");
        String token = n.getToken().getJwt();
        Session transport = new Session();
        Session tunnel = new Session();
        CredentialRevocations.Binding b1 = registry().bind(token, transport);
        registry().bind(token, tunnel);
        assertTrue(b1.expires().isAfter(Instant.now().plusSeconds(800)), "the token's expiry: " + b1.expires());
        Ends<SignalMessage> signalling = signal(token);
        Ends<NetworkMapUpdate> map = watch(token);
        SimpleMeterRegistry meters = new SimpleMeterRegistry();
        relay.relay.bindMeterRegistry(meters);
        // A listener checked the token (as NodeSessionAuthenticator does) before the removal...
        relay.relay.service().sessionAuthenticator().authenticate(token);
        assertThrows(CredentialRejectedException.class, () -> relay.relay.service().sessionAuthenticator().authenticate("not.a.token"));
        assertEquals(1, sessionsRefused(meters, "malformed"));

        relay.relay.service().deleteNode(n.getNodeId());
        assertEquals("node removed", assertThrows(CredentialRejectedException.class,
                () -> relay.relay.service().sessionAuthenticator().authenticate(token)).getMessage(), "a listener checking it after");
        assertEquals(1, sessionsRefused(meters, "node_removed"));
        assertEquals(0, sessionsRefused(meters, "expired"));
        relay.relay.unbindMeterRegistry(meters);
        assertEquals(java.util.List.of(), meters.getMeters());

        assertEquals("node removed", transport.ended.poll(1, TimeUnit.SECONDS));
        assertEquals("node removed", tunnel.ended.poll(1, TimeUnit.SECONDS));
        assertEquals(Status.Code.UNAUTHENTICATED, map.ended.poll(1, TimeUnit.SECONDS).getCode());
        assertEquals(Status.Code.UNAUTHENTICATED, signalling.ended.poll(1, TimeUnit.SECONDS).getCode());
        // ...and binds its session after it: refused, so the session ends before it carries anything.
        Session late = new Session();
        CredentialRejectedException refused = assertThrows(CredentialRejectedException.class, () -> registry().bind(token, late));
        assertEquals("node removed", refused.getMessage());
        assertEquals(0, registry().sessions(), "nothing of the node's left bound");
    }

    private static double sessionsRefused(SimpleMeterRegistry meters, String reason) {
        return meters.get(ControlMeters.SESSION_ACCEPTS)
                .tags("transport", ControlMeters.ANY_TRANSPORT, "outcome", "refused", "reason", reason).functionCounter().count();
    }

    @Test
    void rotatingTheKeyEndsTheOldKeysSessionsAndStreamsOnly() throws Exception {
        start(900);
        String key = relay.preAuthKey("acme", true);
        byte[][] old = RelayFixture.keyPair();
        RegisterResponse n = RelayFixture.register(channel, key, old[1], "rotor");
        RegisterResponse bystander = RelayFixture.register(channel, key, RelayFixture.randomKey(), "bystander");
        String jwt = n.getToken().getJwt();
        Session oldSession = new Session();
        Session other = new Session();
        registry().bind(jwt, oldSession);
        registry().bind(bystander.getToken().getJwt(), other);
        Ends<NetworkMapUpdate> oldMap = watch(jwt);

        byte[][] next = RelayFixture.keyPair();
        RegisterResponse rotated = RelayFixture.rotate(channel, jwt, next[1], "rotor", RelayFixture.proof(old[0],
                n.getRelayKey().toByteArray(), n.getNodeId(), old[1], next[1], Instant.now().getEpochSecond()));

        assertEquals("the node rotated its key", oldSession.ended.poll(1, TimeUnit.SECONDS));
        assertEquals(Status.Code.UNAUTHENTICATED, oldMap.ended.poll(1, TimeUnit.SECONDS).getCode(),
                "the map stream the old key's token opened");
        Ends<NetworkMapUpdate> newMap = watch(rotated.getToken().getJwt());
        Session newSession = new Session();
        registry().bind(rotated.getToken().getJwt(), newSession);
        assertNull(newMap.ended.poll(500, TimeUnit.MILLISECONDS), "the new key's stream stays");
        assertNull(newSession.ended.poll(10, TimeUnit.MILLISECONDS));
        assertNull(other.ended.poll(10, TimeUnit.MILLISECONDS), "another node's session stays");
    }

    @Test
    void sessionsEndWhenTheirTokenExpiresUnlessTheNodeRenewsIt() throws Exception {
        start(3);
        String key = relay.preAuthKey("acme", true);
        RegisterResponse lapsing = RelayFixture.register(channel, key, RelayFixture.randomKey(), "lapsing");
        RegisterResponse renewing = RelayFixture.register(channel, key, RelayFixture.randomKey(), "renewing");
        Session lapsed = new Session();
        Session renewed = new Session();
        CredentialRevocations.Binding lapsedBinding = registry().bind(lapsing.getToken().getJwt(), lapsed);
        Instant firstExpiry = lapsedBinding.expires();
        registry().bind(renewing.getToken().getJwt(), renewed);
        Ends<NetworkMapUpdate> lapsedMap = watch(lapsing.getToken().getJwt());

        // Half its life on (time passing, not a state awaited: nothing may end meanwhile), the node renews.
        assertNull(lapsed.ended.poll(1500, TimeUnit.MILLISECONDS), "ended before its token expired");
        var refreshed = ControlServiceGrpc.newBlockingStub(channel).refreshToken(RefreshTokenRequest.newBuilder()
                .setRefreshToken(renewing.getToken().getRefreshToken()).build());
        Instant renewedUntil = Instant.ofEpochSecond(refreshed.getToken().getExpiresAtEpochSeconds());
        assertTrue(renewedUntil.isAfter(firstExpiry), "renewed past the first token: " + renewedUntil);

        assertEquals("token expired", lapsed.ended.poll(5, TimeUnit.SECONDS));
        Instant endedAt = Instant.now();
        assertTrue(!endedAt.isBefore(firstExpiry) && endedAt.isBefore(firstExpiry.plusSeconds(1)),
                "ended within a second of its expiry " + firstExpiry + ": " + endedAt);
        assertEquals(Status.Code.UNAUTHENTICATED, lapsedMap.ended.poll(1, TimeUnit.SECONDS).getCode(), "so did its map stream");
        assertNull(renewed.ended.poll(10, TimeUnit.MILLISECONDS), "the renewed node's session outlives the first token");
        assertEquals("token expired", renewed.ended.poll(Duration.between(Instant.now(), renewedUntil).toMillis() + 1500,
                TimeUnit.MILLISECONDS), "and ends with its renewed token, not renewed again");
        assertTrue(!Instant.now().isBefore(renewedUntil), "not before the renewed expiry " + renewedUntil);
    }
}
