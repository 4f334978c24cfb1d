package io.cloudbridge.control.node.internal;

import io.cloudbridge.boot.log.Correlation;
import com.google.protobuf.ByteString;
import io.cloudbridge.api.auth.TokenProvider;
import io.cloudbridge.api.net.HostName;
import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.api.overlay.KeyRotationProof;
import io.cloudbridge.api.overlay.OverlayDevice;
import io.cloudbridge.control.v1.NodeInfo;
import io.cloudbridge.control.v1.NodeToken;
import io.cloudbridge.control.v1.RefreshTokenRequest;
import io.cloudbridge.control.v1.RefreshTokenResponse;
import io.cloudbridge.control.v1.RegisterRequest;
import io.cloudbridge.control.v1.RegisterResponse;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;

/**
 * Sign-in and registration (the role of Tailscale's direct.go): this node registers under the
 * overlay's WireGuard key, with the first credential it has.
 *
 * <p>Stages of one sign-in, on the scheduler thread: the overlay's key now (waited for, if there is
 * no overlay yet); a credential, tried in order: the stored refresh token (exchanged for a node
 * token, with a proof of the key rotation when the key is not the one last registered), a
 * pre-auth key, an OIDC access token; Register; then, under the new registration, the home relay
 * published, the overlay brought in line, the map and signalling streams opened afresh, and
 * heartbeats started. A failure is retried with the session's backoff, except where only the
 * operator can help.
 */
final class NodeRegistration {
    private static final Logger LOG = ControlSession.LOG;

    private final ControlSession session;
    private final RefreshTokenStore refreshTokens;
    private final TokenRenewal renewal;
    private final HomeRelayPublication homeRelay;
    private final OverlaySync overlaySync;
    private final MapStream mapStream;
    private final SignallingStream signalling;
    private final Heartbeats heartbeats;

    // The key, node id and relay rotation key of the last registration: what a key rotation proves
    // itself against. Package-private: tests stand for an earlier registration with them.
    volatile NodeKey registeredKey;
    volatile String registeredNodeId;
    volatile NodeKey relayRotationKey;

    NodeRegistration(ControlSession session, RefreshTokenStore refreshTokens, TokenRenewal renewal, HomeRelayPublication homeRelay,
            OverlaySync overlaySync, MapStream mapStream, SignallingStream signalling, Heartbeats heartbeats) {
        this.session = session;
        this.refreshTokens = refreshTokens;
        this.renewal = renewal;
        this.homeRelay = homeRelay;
        this.overlaySync = overlaySync;
        this.mapStream = mapStream;
        this.signalling = signalling;
        this.heartbeats = heartbeats;
    }

    /**
     * One registration, from its first attempt to its answer, is one flow: its id is in every log
     * line of it here and, through the calls' metadata, on the relay.
     */
    private String registrationId;

    void signIn() {
        if (registrationId == null) {
            registrationId = Correlation.newId("reg");
        }
        try (Correlation.Scope flow = Correlation.open(registrationId)) {
            signInUnderItsId();
        }
    }

    private void signInUnderItsId() {
        OverlayDevice device = session.overlay;
        if (device != null) {
            session.nodeKey = device.publicKey(); // the key now, not the one of a retry scheduled before it changed
        }
        // Read once: the overlay can change it under this attempt, which then registers what it proves.
        NodeKey registering = session.nodeKey;
        if (registering == null) {
            session.status = "waiting for the overlay (its key names this node)";
            session.scheduler.schedule(this::signIn, 200, TimeUnit.MILLISECONDS);
            return;
        }
        NodeKey previous = registeredKey;
        boolean rotation = previous != null && !previous.equals(registering);
        boolean refreshRefused = false;
        try {
            RegisterRequest.Builder request = RegisterRequest.newBuilder().setNode(nodeInfo(registering));
            String refresh = refreshTokens.read();
            if (refresh != null) {
                try {
                    RefreshTokenResponse refreshed = session.blocking().refreshToken(
                            RefreshTokenRequest.newBuilder().setRefreshToken(refresh).build());
                    NodeToken renewed = refreshed.getToken();
                    renewal.saveToken(renewed);
                    request.setNodeToken(renewed.getJwt());
                    if (refreshed.getRelayKey().size() == NodeKey.LENGTH) {
                        // The relay's rotation key now (it may have a new one since this node last registered).
                        relayRotationKey = NodeKey.of(refreshed.getRelayKey().toByteArray());
                    }
                    proveRotation(request, registering);
                } catch (StatusRuntimeException e) {
                    if (e.getStatus().getCode() != Status.Code.UNAUTHENTICATED) {
                        throw e;
                    }
                    LOG.warn("the stored refresh token was refused ({}); signing in afresh", e.getStatus().getDescription());
                    refreshTokens.forget();
                    refreshRefused = true;
                }
            }
            if (request.getCredentialCase() == RegisterRequest.CredentialCase.CREDENTIAL_NOT_SET) {
                String key = session.config.preAuthKeyFile().isBlank() ? null
                        : RefreshTokenStore.readSecret(Path.of(session.config.preAuthKeyFile()));
                TokenProvider oidc = session.tokens;
                if (key != null) {
                    request.setPreAuthKey(key);
                } else if (oidc != null) {
                    try {
                        request.setOidcAccessToken(oidc.currentToken().toCompletableFuture().get(30, TimeUnit.SECONDS).value());
                    } catch (ExecutionException | TimeoutException e) {
                        // Not signed in yet (cb:login pending): look again shortly, without counting it as a failure.
                        session.status = "not signed in: " + (e.getCause() != null ? e.getCause().getMessage() : "the provider is slow");
                        session.scheduler.schedule(this::signIn, 2, TimeUnit.SECONDS);
                        return;
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        return;
                    }
                } else {
                    if (refreshRefused) {
                        // The relay's refusal of the stored refresh token ends this sign-in: none other to offer.
                        session.authMeters.registration(AuthMeters.Reason.UNAUTHENTICATED, rotation);
                    }
                    session.status = "not signed in: no credential (set control.preAuthKeyFile, or configure oidc and run cb:login)";
                    LOG.warn(session.status);
                    return;
                }
            }
            RegisterResponse r = session.blocking().register(request.build());
            session.authMeters.registration(AuthMeters.Reason.NONE, rotation);
            session.registration = r;
            registeredKey = registering;
            registeredNodeId = r.getNodeId();
            if (r.getRelayKey().size() == NodeKey.LENGTH) {
                relayRotationKey = NodeKey.of(r.getRelayKey().toByteArray());
            }
            renewal.saveToken(r.getToken());
            session.failures = 0;
            session.status = "registered";
            registrationId = null; // the next registration (a new key, a relay that forgot us) is a flow of its own
            LOG.info("registered with the relay as node {} in tenant {}: {} {}", r.getNodeId(), r.getTenant(),
                    r.getIpv4Address(), r.getIpv6Address());
            // What the registration sets going is no part of it: the streams last for hours, and the
            // relay would run them under this id (it comes with each call's metadata).
            try (Correlation.Scope after = Correlation.open(null)) {
                homeRelay.publish();
                overlaySync.queue();
                // Streams opened under an earlier registration carry its token (the old key's, after a
                // rotation): both start over under this one.
                mapStream.watch();
                signalling.reopen();
                heartbeats.schedule(1);
            }
        } catch (StatusRuntimeException e) {
            // (Only the calls to the relay throw these: the Register call, or the refresh-token exchange before it.)
            session.authMeters.registration(AuthMeters.Reason.of(e.getStatus().getCode()), rotation);
            TokenProvider oidc = session.tokens;
            if (e.getStatus().getCode() == Status.Code.UNAUTHENTICATED && oidc != null) {
                // The provider's token was refused: forget it and wait for a new sign-in (cb:login).
                oidc.invalidate();
                session.status = "not signed in: the relay refused the sign-in: " + e.getStatus().getDescription();
                LOG.warn(session.status);
                session.scheduler.schedule(this::signIn, 2, TimeUnit.SECONDS);
                return;
            }
            if (e.getStatus().getCode() == Status.Code.PERMISSION_DENIED) {
                // Tried again at the longest backoff (a clock put right, the relay's new rotation key
                // learnt at the next refresh), and said plainly: a key changed while the node was
                // stopped cannot be proven, and needs the operator.
                session.failures = Math.max(session.failures, 10);
                session.retry("registration refused: " + ControlSession.describe(e) + ". If this node's WireGuard key changed while it was stopped,"
                        + " put the old key back, or have the node removed (relay:node delete) and sign in again", this::signIn, false);
                return;
            }
            // Over a budget of the relay (RESOURCE_EXHAUSTED), its hint is the least wait.
            session.retry("registration failed: " + ControlSession.describe(e), this::signIn,
                    e.getStatus().getCode() == Status.Code.UNAUTHENTICATED, Backoff.pushbackMillis(e));
        } catch (IOException e) {
            session.status = "not signed in: " + e.getMessage();
            LOG.warn(session.status);
        }
    }

    /**
     * Registering a key other than the one last registered (the interface rotated it) with the
     * node's own token: the relay wants proof that this node holds the key the token names, which
     * the interface still has among its former keys.
     */
    void proveRotation(RegisterRequest.Builder request, NodeKey nodeKey) {
        NodeKey previous = registeredKey;
        NodeKey relayKey = relayRotationKey;
        String nodeId = registeredNodeId;
        OverlayDevice device = session.overlay;
        if (previous == null || previous.equals(nodeKey) || relayKey == null || nodeId == null || device == null) {
            return;
        }
        long now = Instant.now().getEpochSecond();
        device.proveKey(previous, relayKey, KeyRotationProof.message(nodeId, previous, nodeKey, now))
                .ifPresentOrElse(mac -> request.setKeyRotation(io.cloudbridge.control.v1.KeyRotationProof.newBuilder()
                                .setMadeAtEpochSeconds(now).setMac(ByteString.copyFrom(mac))),
                        () -> LOG.warn("the interface no longer has key {}: the relay will refuse the new key", previous));
    }

    NodeInfo nodeInfo(NodeKey nodeKey) throws IOException {
        String host = session.config.hostname().isBlank() ? HostName.ofThisMachine() : session.config.hostname();
        return NodeInfo.newBuilder().setWireguardPublicKey(ByteString.copyFrom(nodeKey.toBytes()))
                .setHostname(host.replaceAll("[^A-Za-z0-9._-]", "-"))
                .setOs(System.getProperty("os.name", "").toLowerCase().replace(' ', '-') + "/" + System.getProperty("os.arch", ""))
                .build();
    }
}
