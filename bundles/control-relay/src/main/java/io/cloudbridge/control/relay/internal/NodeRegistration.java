package io.cloudbridge.control.relay.internal;

import io.cloudbridge.boot.log.Correlation;
import com.google.protobuf.ByteString;
import io.cloudbridge.api.ipam.AddressAllocator;
import io.cloudbridge.api.ipam.Lease;
import io.cloudbridge.api.net.IpPrefix;
import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.control.v1.NodeInfo;
import io.cloudbridge.control.v1.NodeToken;
import io.cloudbridge.control.v1.RegisterRequest;
import io.cloudbridge.control.v1.RegisterResponse;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Registration: a node presents a credential (a pre-auth key, an OIDC access token, or its own
 * node token) and its self-description, and gets an id, overlay addresses and a node token. The
 * stages of one call: check the self-description; verify the credential, which names the tenant;
 * charge the budgets, before a one-time pre-auth key is spent; refuse a key another node holds, or
 * a new key without proof of the old (a rotation); queue the write with the
 * {@link RegistrationWriter}; when the write is flushed, answer on the control service's pool and
 * put the node into its tenant's map.
 */
final class NodeRegistration {
    /** Logs under the control service's name, as before the split: operators' log levels name it. */
    private static final Logger LOG = LoggerFactory.getLogger(ControlService.class);
    static final int MAX_ENDPOINTS = 16;
    /** What a full registration queue tells the caller to wait: bursts take milliseconds, a full queue a few of them. */
    static final Duration QUEUE_RETRY = Duration.ofSeconds(1);

    private final RelayState state;
    private final NodeTokens tokens;
    private final AddressAllocator ipam;
    private final NetworkMaps maps;
    private final MapPeers peers;
    private final Clock clock;
    private final RelayConfig config;
    /** The identity provider's verifier, when the relay has one (it comes and goes with its configuration). */
    private final java.util.function.Supplier<io.cloudbridge.api.auth.IdentityVerifier> identity;
    private final RegistrationWriter registrations;
    /** The data plane's switch, when it runs. */
    private final java.util.function.Supplier<io.cloudbridge.api.relay.PacketSwitch> dataPlane;
    private final KeyRotationVerifier rotations;
    /** Where answers to flushed registrations are made: the control service's own pool. */
    private final java.util.concurrent.Executor answers;
    private final CredentialRegistry credentials;
    private final ControlRefusals refusals;
    private final ControlBudgets budgets;
    private final PreAuthKeyFailures failedKeys;
    /** Registrations answered with a node token, and those of them that moved a node to a new key. */
    private final LongAdder registered = new LongAdder();
    private final LongAdder rotated = new LongAdder();

    NodeRegistration(RelayState state, NodeTokens tokens, AddressAllocator ipam, NetworkMaps maps, MapPeers peers, Clock clock,
            RelayConfig config, java.util.function.Supplier<io.cloudbridge.api.auth.IdentityVerifier> identity,
            RegistrationWriter registrations, java.util.function.Supplier<io.cloudbridge.api.relay.PacketSwitch> dataPlane,
            KeyRotationVerifier rotations, java.util.concurrent.Executor answers, CredentialRegistry credentials,
            ControlRefusals refusals, ControlBudgets budgets, PreAuthKeyFailures failedKeys) {
        this.state = state;
        this.tokens = tokens;
        this.ipam = ipam;
        this.maps = maps;
        this.peers = peers;
        this.clock = clock;
        this.config = config;
        this.identity = identity;
        this.registrations = registrations;
        this.dataPlane = dataPlane;
        this.rotations = rotations;
        this.answers = answers;
        this.credentials = credentials;
        this.refusals = refusals;
        this.budgets = budgets;
        this.failedKeys = failedKeys;
    }

    void register(RegisterRequest request, StreamObserver<RegisterResponse> reply) {
        String remote = ControlService.remote(Context.current());
        try {
            NodeInfo info = request.getNode();
            String problem = invalid(info);
            if (problem == null && KeyRotationVerifier.lowOrder(NodeKey.of(info.getWireguardPublicKey().toByteArray()))) {
                // In the tenant's map it would be a peer no node can add (a handshake with it is
                // refused): kept out, before a one-time credential is spent on it.
                problem = "wireguard_public_key is a low-order point";
            }
            if (problem != null) {
                throw refusals.refuse(Status.INVALID_ARGUMENT, "bad node info: " + problem, remote, AuthRefusal.REGISTRATION_BAD_NODE_INFO);
            }
            Instant now = clock.instant();
            NodeKey key = NodeKey.of(info.getWireguardPublicKey().toByteArray());
            NodeTokens.Claims own = request.getCredentialCase() == RegisterRequest.CredentialCase.NODE_TOKEN
                    ? ownNodeToken(request.getNodeToken(), remote, now) : null;
            // The budgets are charged once the credential names the tenant, and before a one-time
            // pre-auth key is used up: a refusal for a budget spends nothing the node needs again.
            SignedIn signedIn = switch (request.getCredentialCase()) {
                case PRE_AUTH_KEY -> tenantOfPreAuthKey(request.getPreAuthKey(), remote, now,
                        t -> chargeRegistration(t, key, null, request.getPreAuthKey().substring(4, 16), remote, now));
                case OIDC_ACCESS_TOKEN -> tenantOfAccessToken(request.getOidcAccessToken(), remote);
                // Who the node is was recorded when it first signed in; its own token names no one new.
                case NODE_TOKEN -> new SignedIn(own.tenant(), RelayState.Identity.NONE);
                default -> throw refusals.refuse(Status.UNAUTHENTICATED, "no credential", remote, AuthRefusal.REGISTRATION_NO_CREDENTIAL);
            };
            String tenant = signedIn.tenant();
            if (own != null || request.getCredentialCase() == RegisterRequest.CredentialCase.OIDC_ACCESS_TOKEN) {
                chargeRegistration(tenant, key, own == null ? null : own.nodeId(), null, remote, now);
            }
            // Public keys are in every peer's map: a credential for the tenant must not make its
            // holder an existing node (the writer refuses a known key). That node signs in again
            // with its own token only.
            String ownNodeId = own == null ? null : own.nodeId();
            boolean rotating = own != null && !own.nodeKey().equals(key.toBase64());
            if (rotating) {
                checkRotationProof(request, own, key, remote, now);
            }
            // A key in the tenant's map under another id is taken, whether a node's or a member's
            // inside the relay (the CONNECT-IP gateway has a lease and no node record).
            Optional<String> holder = maps.holder(tenant, key);
            if (holder.isPresent() && !holder.get().equals(ownNodeId)) {
                throw refusals.refuse(Status.ALREADY_EXISTS, "this key is registered already: the node signs in with its own token,"
                        + " or an administrator removes it (relay:node delete)", remote, AuthRefusal.REGISTRATION_KEY_TAKEN);
            }
            java.util.concurrent.CompletableFuture<RegistrationWriter.Outcome> pending;
            try {
                pending = registrations.submit(new RelayState.Registration(tenant, key.toBase64(), info.getHostname(), info.getOs(),
                        info.getEndpointsList(), ownNodeId, own == null ? null : own.nodeKey(), now,
                        now.plusSeconds(config.refreshLifetimeSeconds()), signedIn.identity()));
            } catch (RegistrationWriter.QueueFull full) {
                throw budgets.overBudget(new CallBudgets.Overdrawn("registrations waiting at the relay", QUEUE_RETRY), remote,
                        AuthRefusal.REGISTRATION_QUEUE_FULL);
            }
            // The call's thread goes back to the pool while the writer works: the answer is made on
            // the pool when the write is flushed.
            // (Answered on another thread: under this call's id all the same.)
            String flow = Correlation.current();
            pending.whenCompleteAsync((outcome, failure) -> {
                try (Correlation.Scope answering = Correlation.open(flow)) {
                    answer(outcome, failure, tenant, key, own, rotating, now, remote, reply);
                }
            }, answers);
        } catch (StatusRuntimeException e) {
            ControlService.fail(reply, e);
        } catch (SQLException e) {
            LOG.error("registration failed in the database: {}", e.toString());
            ControlService.fail(reply, Status.UNAVAILABLE.withDescription("the relay's database failed; try again").asRuntimeException());
        }
    }

    /** A flushed registration's answer, or why there is none. */
    private void answer(RegistrationWriter.Outcome outcome, Throwable failure, String tenant, NodeKey key, NodeTokens.Claims own,
            boolean rotating, Instant now, String remote, StreamObserver<RegisterResponse> reply) {
        try {
            if (failure != null) {
                Throwable cause = failure instanceof java.util.concurrent.CompletionException && failure.getCause() != null
                        ? failure.getCause() : failure;
                throw cause instanceof SQLException sql ? sql : new SQLException("writing the registration failed: " + cause, cause);
            }
            if (outcome.exhausted() != null) {
                throw refusals.refuse(Status.RESOURCE_EXHAUSTED, outcome.exhausted(), remote, AuthRefusal.REGISTRATION_ADDRESSES_EXHAUSTED);
            }
            if (outcome.refusal() == RelayState.Refusal.KEY_TAKEN) {
                throw refusals.refuse(Status.ALREADY_EXISTS, "this key is registered already: the node signs in with its own token,"
                        + " or an administrator removes it (relay:node delete)", remote, AuthRefusal.REGISTRATION_KEY_TAKEN);
            }
            if (outcome.refusal() == RelayState.Refusal.KEY_RESERVED) {
                throw refusals.refuse(Status.PERMISSION_DENIED, "this key is reserved for the relay's CONNECT-IP gateway of the tenant",
                        remote, AuthRefusal.REGISTRATION_KEY_RESERVED);
            }
            if (outcome.refusal() == RelayState.Refusal.NODE_REMOVED) {
                throw refusals.refuse(Status.UNAUTHENTICATED, "node removed", remote, AuthRefusal.REGISTRATION_NODE_REMOVED);
            }
            if (outcome.refusal() == RelayState.Refusal.KEY_CHANGED) {
                throw refusals.refuse(Status.PERMISSION_DENIED, "the token belongs to another node key", remote,
                        AuthRefusal.REGISTRATION_KEY_CHANGED);
            }
            RelayState.Node node = outcome.node();
            Lease lease = outcome.lease();
            List<IpPrefix> prefixes = ipam.prefixes(tenant);
            StringBuilder jwt = new StringBuilder();
            Instant expires = tokens.issue(node.id(), tenant, key.toBase64(), now, jwt);
            credentials.renewed(node.id(), key.toBase64(), expires);
            RegisterResponse response = RegisterResponse.newBuilder().setNodeId(node.id()).setTenant(tenant)
                    .setRelayKey(ByteString.copyFrom(rotations.publicKey().toBytes()))
                    .setIpv4Address(MapPeers.addr(lease.ipv4()) + "/" + prefixLength(prefixes, 4, 32))
                    .setIpv6Address(MapPeers.addr(lease.ipv6()) + "/" + prefixLength(prefixes, 6, 128))
                    .setToken(NodeToken.newBuilder().setJwt(jwt.toString()).setExpiresAtEpochSeconds(expires.getEpochSecond())
                            .setRefreshToken(outcome.refreshToken())).build();
            maps.upsert(tenant, peers.entry(node, lease));
            if (rotating) {
                // A rotation: every session the old key's tokens opened ends here (the tokens
                // stopped working with the update above). The node opens its streams and sessions
                // again with the token in this answer.
                credentials.revokeNodeKey(node.id(), own.nodeKey(), "the node rotated its key");
                io.cloudbridge.api.relay.PacketSwitch relaySwitch = dataPlane.get();
                if (relaySwitch != null) {
                    // For a transport plugin that does not bind its ports (a vendor's).
                    relaySwitch.disconnect(tenant, NodeKey.parse(own.nodeKey()), "the node rotated its key");
                }
                ControlService.SECURITY.info("node {} of tenant {} rotated its key {} -> {}", node.id(), tenant, own.nodeKey(),
                        key.toBase64());
                rotated.increment();
            }
            registered.increment();
            LOG.info("node {} ({}) registered in tenant {}", node.id(), node.hostname(), tenant);
            try {
                reply.onNext(response);
                reply.onCompleted();
            } catch (RuntimeException cancelled) {
                LOG.debug("node {} had gone before its registration was answered", node.id());
            }
        } catch (StatusRuntimeException e) {
            ControlService.fail(reply, e);
        } catch (SQLException e) {
            LOG.error("registration failed in the database: {}", e.toString());
            ControlService.fail(reply, Status.UNAVAILABLE.withDescription("the relay's database failed; try again").asRuntimeException());
        } catch (RuntimeException e) {
            LOG.error("answering a registration failed", e);
            ControlService.fail(reply, Status.INTERNAL.withDescription("the relay failed answering the registration").asRuntimeException());
        }
    }

    /** Registrations accepted since the relay started: written, and their token made. */
    long registered() {
        return registered.sum();
    }

    /** Key rotations accepted since the relay started. */
    long rotated() {
        return rotated.sum();
    }

    /** Charges a registration to the node (its key; its id when it used its own token), its tenant and its pre-auth key. */
    private void chargeRegistration(String tenant, NodeKey key, String nodeId, String preAuthKeyId, String remote, Instant now) {
        List<CallBudgets.Charge> charges = new ArrayList<>(4);
        int perNode = config.registrationsPerNodePerMinute();
        charges.add(new CallBudgets.Charge("register/key/" + tenant + "/" + key.toBase64(), perNode, "registrations of this node"));
        if (nodeId != null) {
            charges.add(new CallBudgets.Charge("register/node/" + nodeId, perNode, "registrations of this node"));
        }
        charges.add(new CallBudgets.Charge("register/tenant/" + tenant, config.registrationsPerTenantPerMinute(),
                "registrations in this tenant"));
        if (preAuthKeyId != null) {
            charges.add(new CallBudgets.Charge("register/pre-auth/" + preAuthKeyId, config.registrationsPerPreAuthKeyPerMinute(),
                    "registrations with this pre-auth key"));
        }
        budgets.charge(AuthRefusal.REGISTRATION_OVER_BUDGET, remote, now, charges.toArray(CallBudgets.Charge[]::new));
    }

    /** The tenant a credential names, and who it says the node is (for the tenant's access policy). */
    private record SignedIn(String tenant, RelayState.Identity identity) {
    }

    /** @param admit charges the budgets once the key is found good, before a one-time key is used up (it throws to refuse) */
    private SignedIn tenantOfPreAuthKey(String presented, String remote, Instant now, java.util.function.Consumer<String> admit)
            throws SQLException {
        if (failedKeys.overFailureBudget(remote, now, false)) {
            throw refusals.refuse(Status.RESOURCE_EXHAUSTED, "too many failed pre-auth keys from this address; wait a minute", remote,
                    AuthRefusal.REGISTRATION_TOO_MANY_FAILED_KEYS);
        }
        RelayState.KeyVerdict verdict = state.usePreAuthKey(presented, now, admit);
        if (verdict.check() != RelayState.KeyCheck.ACCEPTED) {
            failedKeys.overFailureBudget(remote, now, true);
            throw refusals.refuse(Status.UNAUTHENTICATED, "pre-auth key " + verdict.check().name().toLowerCase(), remote,
                    AuthRefusal.registration(verdict.check()));
        }
        return new SignedIn(verdict.tenant(), new RelayState.Identity("", List.of(), verdict.tags()));
    }

    /**
     * A node token with a key other than its own is a rotation: only with proof that the caller
     * holds the private key the token names. A token alone must not move the node onto a key of
     * its holder's, which its peers would then take for the node.
     */
    private void checkRotationProof(RegisterRequest request, NodeTokens.Claims own, NodeKey key, String remote, Instant now) {
        if (!request.hasKeyRotation()) {
            throw refusals.refuse(Status.PERMISSION_DENIED, "a new key needs proof of the key the token names (key_rotation)", remote,
                    AuthRefusal.REGISTRATION_NO_ROTATION_PROOF, AuthRefusal.KEY_ROTATION_NO_PROOF);
        }
        String why = rotations.check(own.nodeId(), NodeKey.parse(own.nodeKey()), key,
                request.getKeyRotation().getMadeAtEpochSeconds(), request.getKeyRotation().getMac().toByteArray(), now);
        if (why != null) {
            throw refusals.refuse(Status.PERMISSION_DENIED, why, remote, AuthRefusal.REGISTRATION_BAD_ROTATION_PROOF,
                    AuthRefusal.KEY_ROTATION_BAD_PROOF);
        }
    }

    /** Sign-in at the tenant's OpenID Provider: its access token, verified against its keys, names the tenant. */
    private SignedIn tenantOfAccessToken(String token, String remote) {
        io.cloudbridge.api.auth.IdentityVerifier verifier = identity.get();
        if (verifier == null) {
            throw refusals.refuse(Status.UNIMPLEMENTED, "OIDC sign-in is not configured on this relay (section identity)", remote,
                    AuthRefusal.REGISTRATION_OIDC_NOT_CONFIGURED);
        }
        try {
            io.cloudbridge.api.auth.VerifiedIdentity who = verifier.verify(token);
            if (who.subject() != null && who.subject().length() > 255) {
                throw refusals.refuse(Status.UNAUTHENTICATED, "access token: its subject is longer than 255 characters", remote,
                        AuthRefusal.REGISTRATION_BAD_ACCESS_TOKEN);
            }
            LOG.info("OIDC sign-in of {} from {} for tenant {}", who.subject(), who.issuer(), who.tenant());
            return new SignedIn(who.tenant(), new RelayState.Identity(who.subject() == null ? "" : who.subject(), who.groups(), List.of()));
        } catch (io.cloudbridge.api.auth.CredentialRejectedException e) {
            throw refusals.refuse(Status.UNAUTHENTICATED, "access token: " + e.getMessage(), remote,
                    AuthRefusal.REGISTRATION_BAD_ACCESS_TOKEN);
        }
    }

    /**
     * Re-registration with the node's own token: only for the node the token names, and only when
     * the token was issued for the node's key now (a token from before a rotation is refused). A
     * new key in the request is the node rotating its key (see checkRotationProof).
     */
    private NodeTokens.Claims ownNodeToken(String token, String remote, Instant now) throws SQLException {
        NodeTokens.Claims claims;
        try {
            claims = tokens.verify(token, now);
        } catch (NodeTokens.Refused e) {
            throw refusals.refuse(Status.UNAUTHENTICATED, e.getMessage(), remote, AuthRefusal.registration(e.kind()));
        }
        Optional<RelayState.Node> node = state.node(claims.nodeId());
        if (node.isEmpty()) {
            throw refusals.refuse(Status.UNAUTHENTICATED, "node removed", remote, AuthRefusal.REGISTRATION_NODE_REMOVED);
        }
        if (!node.get().key().equals(claims.nodeKey())) {
            throw refusals.refuse(Status.PERMISSION_DENIED, "the token belongs to another node key", remote,
                    AuthRefusal.REGISTRATION_KEY_CHANGED);
        }
        return claims;
    }

    private static int prefixLength(List<IpPrefix> prefixes, int family, int fallback) {
        for (IpPrefix p : prefixes) {
            if ((p.address() instanceof java.net.Inet4Address) == (family == 4)) {
                return p.length();
            }
        }
        return fallback;
    }

    /** What is wrong with a node's self-description, or null. */
    static String invalid(NodeInfo info) {
        if (info.getWireguardPublicKey().size() != NodeKey.LENGTH) {
            return "wireguard_public_key must be 32 bytes";
        }
        if (info.getHostname().isEmpty() || info.getHostname().length() > 255 || !info.getHostname().matches("[A-Za-z0-9._-]+")) {
            return "hostname must be 1-255 of A-Z a-z 0-9 . _ -";
        }
        if (info.getOs().length() > 64) {
            return "os is longer than 64";
        }
        if (info.getEndpointsCount() > MAX_ENDPOINTS) {
            return "more than " + MAX_ENDPOINTS + " endpoints";
        }
        for (String e : info.getEndpointsList()) {
            if (e.length() > 64 || !e.matches("[0-9A-Za-z.:\\[\\]-]+:[0-9]{1,5}") || e.contains(",")) {
                return "endpoint '" + e.substring(0, Math.min(e.length(), 64)) + "' is not host:port";
            }
        }
        return null;
    }
}
