package io.cloudbridge.control.node.internal;

import static io.cloudbridge.control.node.internal.ControlTestKit.authCount;
import static io.cloudbridge.control.node.internal.ControlTestKit.key;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.api.auth.AccessToken;
import io.cloudbridge.api.auth.TokenProvider;
import io.cloudbridge.api.overlay.KeyRotationProof;
import io.cloudbridge.control.node.internal.ControlTestKit.FakeOverlay;
import io.cloudbridge.control.node.internal.ControlTestKit.FakeRelay;
import io.cloudbridge.control.node.internal.ControlTestKit.QueueingScheduler;
import io.cloudbridge.control.v1.NodeInfo;
import io.cloudbridge.control.v1.RegisterRequest;
import io.grpc.Status;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a sign-in decides before it calls the relay: what it says about the node, which credential
 * it uses or waits for, and the proof a rotated key carries. The calls themselves are the
 * integration tests' (they need a relay).
 */
class NodeRegistrationTest {
    @TempDir
    Path state;
    private final QueueingScheduler scheduler = new QueueingScheduler();
    private ControlSession session;
    private NodeRegistration registration;

    @BeforeEach
    void start() {
        session = ControlTestKit.session(state, ControlTestKit.config("relay.example:7443", "web 01/eu", "", 30), scheduler);
        NetworkMap map = new NetworkMap();
        RefreshTokenStore refreshTokens = new RefreshTokenStore(session, () -> null);
        HomeRelayPublication homeRelay = new HomeRelayPublication(session);
        OverlaySync overlaySync = new OverlaySync(session, map);
        registration = new NodeRegistration(session, refreshTokens, new TokenRenewal(session, refreshTokens, () -> { }), homeRelay,
                overlaySync, new MapStream(session, map, overlaySync, homeRelay), new SignallingStream(session, map),
                new Heartbeats(session, map, device -> { }));
    }

    @AfterEach
    void stop() {
        scheduler.shutdownNow();
    }

    @Test
    void theNodeIsDescribedByItsKeyAHostnameTheRelayCanShowAndItsPlatform() throws Exception {
        NodeInfo info = registration.nodeInfo(key(7));
        assertArrayEquals(key(7).toBytes(), info.getWireguardPublicKey().toByteArray());
        assertEquals("web-01-eu", info.getHostname(), "characters outside [A-Za-z0-9._-] become '-'");
        assertEquals(System.getProperty("os.name").toLowerCase(Locale.ROOT).replace(' ', '-') + "/" + System.getProperty("os.arch"),
                info.getOs());
    }

    @Test
    void aSignInWaitsForTheOverlayWhoseKeyNamesTheNode() {
        registration.signIn();
        assertEquals("waiting for the overlay (its key names this node)", session.status);
        assertEquals(200, scheduler.only().delayMillis());
    }

    @Test
    void withNoCredentialAtAllTheNodeSaysSoAndWaitsForOne() {
        session.nodeKey = key(1);
        session.overlay = new FakeOverlay(key(2));
        registration.signIn(); // no refresh token, pre-auth key or OIDC: it must not reach for the relay
        assertEquals(key(2), session.nodeKey, "the overlay's key now, not the one from before");
        assertEquals("not signed in: no credential (set control.preAuthKeyFile, or configure oidc and run cb:login)", session.status);
        assertTrue(scheduler.tasks.isEmpty(), "no retry: binding a token provider signs in again");
        assertEquals(0, session.failures);
    }

    @Test
    void anOidcSignInNotDoneYetIsLookedForAgainWithoutCountingAFailure() {
        session.overlay = new FakeOverlay(key(2));
        session.tokens = new TokenProvider() {
            @Override
            public String name() {
                return "test";
            }

            @Override
            public CompletionStage<AccessToken> currentToken() {
                return CompletableFuture.failedFuture(new IllegalStateException("run cb:login"));
            }

            @Override
            public void invalidate() {
            }
        };
        registration.signIn();
        assertEquals("not signed in: run cb:login", session.status);
        assertEquals(2_000, scheduler.only().delayMillis());
        assertEquals(0, session.failures);
    }

    @Test
    void noProofIsMadeWhenThereIsNoEarlierKeyToProveAgainst() {
        FakeOverlay overlay = new FakeOverlay(key(2));
        overlay.formerKey = key(1);
        session.overlay = overlay;
        RegisterRequest.Builder first = RegisterRequest.newBuilder();
        registration.proveRotation(first, key(2));
        assertFalse(first.hasKeyRotation(), "a first registration");

        registered(key(2));
        RegisterRequest.Builder same = RegisterRequest.newBuilder();
        registration.proveRotation(same, key(2));
        assertFalse(same.hasKeyRotation(), "the key registered last");
        assertNull(overlay.provedWith);
    }

    @Test
    void aRotatedKeyIsProvenWithTheFormerKeyForTheRelaysRotationKey() {
        FakeOverlay overlay = new FakeOverlay(key(2));
        overlay.formerKey = key(1);
        session.overlay = overlay;
        registered(key(1));
        long before = Instant.now().getEpochSecond();
        RegisterRequest.Builder request = RegisterRequest.newBuilder();
        registration.proveRotation(request, key(2));
        long madeAt = request.getKeyRotation().getMadeAtEpochSeconds();
        assertTrue(madeAt >= before && madeAt <= Instant.now().getEpochSecond());
        assertArrayEquals(overlay.proof, request.getKeyRotation().getMac().toByteArray());
        assertEquals(key(1), overlay.provedWith);
        assertEquals(key(9), overlay.verifier, "the relay's rotation key verifies it");
        assertArrayEquals(KeyRotationProof.message("node-1", key(1), key(2), madeAt), overlay.provedMessage);
    }

    @Test
    void anInterfaceThatLostTheFormerKeyGivesNoProof() {
        session.overlay = new FakeOverlay(key(2)); // no former key kept
        registered(key(1));
        RegisterRequest.Builder request = RegisterRequest.newBuilder();
        registration.proveRotation(request, key(2));
        assertFalse(request.hasKeyRotation(), "the relay will refuse it, and the log says why");
    }

    /**
     * Each sign-in that reached for the relay is counted once, by its answer: not reached, refused
     * (also in the refresh-token exchange before Register), accepted; one under another key than
     * the one registered last is also a key rotation.
     */
    @Test
    void eachSignInIsCountedByTheRelaysAnswerAndANewKeysAlsoAsARotation() throws Exception {
        SimpleMeterRegistry meters = new SimpleMeterRegistry();
        session.authMeters.bind(meters);
        Path preAuthKey = Files.writeString(state.resolve("pre-auth-key"), "pak-1");
        session.config = ControlTestKit.config("relay.example:7443", "node-a", preAuthKey.toString(), 30);
        session.overlay = new FakeOverlay(key(2));

        registration.signIn(); // no channel to the relay yet
        assertEquals(1, authCount(meters, "cloudbridge.auth.registrations", "failed", "unavailable"));

        try (FakeRelay relay = new FakeRelay()) {
            session.channel = relay.channel;
            session.context = ControlTestKit.acceptingContext();
            relay.refusal = Status.RESOURCE_EXHAUSTED.withDescription("over the tenant's registration budget");
            registration.signIn();
            assertEquals(1, authCount(meters, "cloudbridge.auth.registrations", "refused", "resource_exhausted"));

            relay.refusal = null;
            registration.signIn();
            assertEquals("registered", session.status);
            assertEquals(1, authCount(meters, "cloudbridge.auth.registrations", "accepted", "none"));
            assertEquals(0, ControlTestKit.authTotal(meters, "cloudbridge.auth.key.rotations"),
                    "a first registration rotates nothing");

            // The interface has a new key: the relay refuses it (here at the refresh-token exchange before Register), then takes it.
            session.overlay = new FakeOverlay(key(3));
            relay.refusal = Status.PERMISSION_DENIED.withDescription("stale proof");
            registration.signIn();
            assertEquals(1, authCount(meters, "cloudbridge.auth.registrations", "refused", "permission_denied"));
            assertEquals(1, authCount(meters, "cloudbridge.auth.key.rotations", "refused", "permission_denied"));
            relay.refusal = null;
            registration.signIn();
            assertEquals(2, authCount(meters, "cloudbridge.auth.registrations", "accepted", "none"));
            assertEquals(1, authCount(meters, "cloudbridge.auth.key.rotations", "accepted", "none"));

            // The stored refresh token refused, and no other credential: the sign-in ends refused.
            session.config = ControlTestKit.config("relay.example:7443", "node-a", "", 30);
            relay.refusal = Status.UNAUTHENTICATED.withDescription("refresh token revoked");
            registration.signIn();
            assertEquals(1, authCount(meters, "cloudbridge.auth.registrations", "refused", "unauthenticated"));
        }
        assertEquals(6, ControlTestKit.authTotal(meters, "cloudbridge.auth.registrations"),
                "six sign-ins, each counted once");
        session.authMeters.unbind(meters);
        assertEquals(java.util.List.of(), meters.getMeters(), "the meters go with the registry");
    }

    /** As a registration under {@code key} left it, with the relay's rotation key known. */
    private void registered(io.cloudbridge.api.net.NodeKey key) {
        registration.registeredKey = key;
        registration.registeredNodeId = "node-1";
        registration.relayRotationKey = key(9);
    }
}
