package io.cloudbridge.control.node.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.control.node.internal.ControlTestKit.FakeRelay;
import io.cloudbridge.control.node.internal.ControlTestKit.QueueingScheduler;
import io.cloudbridge.control.v1.NodeToken;
import io.grpc.Status;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** When the node token is renewed, and how a failed renewal backs off. */
class TokenRenewalTest {
    @TempDir
    Path state;
    private final QueueingScheduler scheduler = new QueueingScheduler();
    private ControlSession session;
    private TokenRenewal renewal;
    private int signIns;

    @BeforeEach
    void start() {
        session = ControlTestKit.session(state, ControlTestKit.config("relay.example:7443", "node-a", "", 30), scheduler);
        renewal = new TokenRenewal(session, new RefreshTokenStore(session, () -> null), () -> signIns++);
    }

    @AfterEach
    void stop() {
        scheduler.shutdownNow();
    }

    @Test
    void aTokenIsRenewedTwoThirdsIntoWhatIsLeftOfItsLife() {
        Instant now = Instant.parse("2025-01-01T00:00:00Z");
        assertEquals(200_000, TokenRenewal.renewDelayMillis(now, now.plusSeconds(300)));
        assertEquals(2_400_000, TokenRenewal.renewDelayMillis(now, now.plusSeconds(3600)));
        assertEquals(2_000, TokenRenewal.renewDelayMillis(now, now.plusSeconds(3)));
        assertEquals(1, TokenRenewal.renewDelayMillis(now, now), "due now: at once, not never");
        assertEquals(1, TokenRenewal.renewDelayMillis(now, now.minusSeconds(60)), "expired (a clock put right): at once");
    }

    @Test
    void aFailedRenewalBacksOffFromTwoToThirtyTwoSecondsButNoSoonerThanTheRelayAsks() {
        long[] expected = {2_000, 4_000, 8_000, 16_000, 32_000, 32_000, 32_000};
        for (int failedBefore = 0; failedBefore < expected.length; failedBefore++) {
            assertEquals(expected[failedBefore], TokenRenewal.retryWaitMillis(0, failedBefore), failedBefore + " failed before");
        }
        assertEquals(60_000, TokenRenewal.retryWaitMillis(60_000, 0), "the relay's hint, when longer");
        assertEquals(8_000, TokenRenewal.retryWaitMillis(500, 2), "a shorter hint changes nothing");
    }

    @Test
    void aNewTokenIsKeptItsRefreshTokenStoredAndOneRenewalChainScheduled() throws Exception {
        Instant expires = Instant.now().plusSeconds(300);
        renewal.saveToken(token("jwt-1", expires, "refresh-1"));
        assertEquals("jwt-1", session.jwt, "the next call carries it");
        assertEquals(Instant.ofEpochSecond(expires.getEpochSecond()), renewal.tokenExpires());
        assertEquals("refresh-1", Files.readString(state.resolve("refresh-token")));
        QueueingScheduler.Task first = scheduler.only();
        assertTrue(first.delayMillis() > 195_000 && first.delayMillis() <= 200_000, first.delayMillis() + " ms");

        renewal.saveToken(token("jwt-2", Instant.now().plusSeconds(600), "refresh-2"));
        assertTrue(first.future().isCancelled(), "the earlier renewal is called off: one chain");
        assertFalse(scheduler.tasks.get(1).future().isCancelled());
        assertEquals("jwt-2", session.jwt);
        assertEquals("refresh-2", Files.readString(state.resolve("refresh-token")));
    }

    @Test
    void nothingIsRenewedForANodeThatIsNotRegistered() {
        session.status = "registered";
        renewal.renew(); // no registration: it must not reach for the relay (there is no channel to reach it by)
        assertTrue(scheduler.tasks.isEmpty());
        assertEquals(0, renewal.renewals());
        assertEquals(0, signIns);
    }

    @Test
    void aMapStreamInABreakDoesNotStopRenewalAndAMissingRefreshTokenSignsTheNodeInAgain() {
        session.registration = ControlTestKit.registered("node-1");
        session.status = "map stream ended: UNAVAILABLE; retrying"; // registered all the same
        renewal.renew(); // no refresh token kept: nothing to renew with, so a new sign-in, said, not a silent end
        scheduler.only().command().run();
        assertEquals(1, signIns, "a new sign-in was asked for");
        assertEquals(null, session.registration);
        assertEquals("signed out: the refresh token is gone", session.status);
    }

    @Test
    void eachRenewalIsCountedByTheRelaysAnswer() throws Exception {
        SimpleMeterRegistry meters = new SimpleMeterRegistry();
        session.authMeters.bind(meters);
        session.registration = ControlTestKit.registered("node-1");
        renewal.saveToken(token("jwt-1", Instant.now().plusSeconds(300), "refresh-1"));

        renewal.renew(); // no channel to the relay yet
        assertEquals(1, ControlTestKit.authCount(meters, "cloudbridge.auth.token.renewals", "failed", "unavailable"));
        try (FakeRelay relay = new FakeRelay()) {
            session.channel = relay.channel;
            renewal.renew();
            assertEquals(1, renewal.renewals());
            assertEquals(1, ControlTestKit.authCount(meters, "cloudbridge.auth.token.renewals", "accepted", "none"));

            relay.refusal = Status.UNAUTHENTICATED.withDescription("refresh token revoked");
            renewal.renew();
            assertEquals(1, ControlTestKit.authCount(meters, "cloudbridge.auth.token.renewals", "refused", "unauthenticated"));
        }
        assertEquals(0, ControlTestKit.authTotal(meters, "cloudbridge.auth.registrations"),
                "a renewal is no registration");
    }

    private static NodeToken token(String jwt, Instant expires, String refresh) {
        return NodeToken.newBuilder().setJwt(jwt).setExpiresAtEpochSeconds(expires.getEpochSecond()).setRefreshToken(refresh).build();
    }
}
