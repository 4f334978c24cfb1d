package io.cloudbridge.control.relay.internal;

import com.google.protobuf.ByteString;
import io.cloudbridge.api.ipam.AddressAllocator;
import io.cloudbridge.api.ipam.AddressPoolExhaustedException;
import io.cloudbridge.api.ipam.Lease;
import io.cloudbridge.api.net.IpPrefix;
import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.control.v1.ControlServiceGrpc;
import io.cloudbridge.control.v1.HeartbeatRequest;
import io.cloudbridge.control.v1.HeartbeatResponse;
import io.cloudbridge.control.v1.NetworkMapUpdate;
import io.cloudbridge.control.v1.NodeInfo;
import io.cloudbridge.control.v1.NodeToken;
import io.cloudbridge.control.v1.Peer;
import io.cloudbridge.control.v1.RefreshTokenRequest;
import io.cloudbridge.control.v1.RefreshTokenResponse;
import io.cloudbridge.control.v1.RegisterRequest;
import io.cloudbridge.control.v1.RegisterResponse;
import io.cloudbridge.control.v1.SignalMessage;
import io.cloudbridge.control.v1.WatchNetworkMapRequest;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The relay's side of {@code cloudbridge.control.v1.ControlService}. Registration takes a
 * credential from the request; every other call is authenticated by {@link #authenticator()} from
 * the node's own token, and acts on that node and its tenant only.
 */
final class ControlService extends ControlServiceGrpc.ControlServiceImplBase {
    private static final Logger LOG = LoggerFactory.getLogger(ControlService.class);
    /** Refused credentials and other security-relevant events, for whoever watches for attacks. */
    static final Logger SECURITY = LoggerFactory.getLogger("io.cloudbridge.security");
    static final Context.Key<NodeTokens.Claims> NODE = Context.key("cloudbridge-node");
    static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
    static final int MAX_ENDPOINTS = 16;
    static final int MAX_SIGNAL_PAYLOAD = 16 * 1024;

    private final RelayState state;
    private final NodeTokens tokens;
    private final AddressAllocator ipam;
    private final NetworkMaps maps;
    private final Clock clock;
    private final RelayConfig config;
    private final String homeRelay;
    /** The identity provider's verifier, when the relay has one (it comes and goes with its configuration). */
    private final java.util.function.Supplier<io.cloudbridge.api.auth.IdentityVerifier> identity;
    /** Answers go out only once what they report is in the database's file (group commit). */
    private final io.cloudbridge.store.Durability durability;
    private final Map<String, SignalStream> signalStreams = new ConcurrentHashMap<>();
    private final Map<String, LongAdder> refusals = new ConcurrentHashMap<>();
    private final Map<String, java.util.ArrayDeque<Long>> keyFailures = new HashMap<>();
    private final RegistrationWriter registrations;
    /** The data plane's switch, when it runs. */
    private final java.util.function.Supplier<io.cloudbridge.api.relay.PacketSwitch> dataPlane;
    private final KeyRotationVerifier rotations;
    private final CallBudgets budgets = new CallBudgets();
    /** Where answers to flushed registrations are made: the control service's own pool. */
    private final java.util.concurrent.Executor answers;
    /** Every session a node token or an access token opened, on every listener: what revocation ends. */
    private final CredentialRegistry credentials;

    ControlService(RelayState state, NodeTokens tokens, AddressAllocator ipam, Clock clock, RelayConfig config, String homeRelay,
            java.util.function.Supplier<io.cloudbridge.api.auth.IdentityVerifier> identity, io.cloudbridge.store.Durability durability,
            java.util.function.Supplier<io.cloudbridge.api.relay.PacketSwitch> dataPlane, KeyRotationVerifier rotations,
            java.util.concurrent.Executor answers) {
        this.answers = answers;
        this.dataPlane = dataPlane;
        this.rotations = rotations;
        this.identity = identity;
        this.durability = durability;
        this.state = state;
        this.tokens = tokens;
        this.ipam = ipam;
        this.clock = clock;
        this.config = config;
        this.homeRelay = homeRelay;
        this.maps = new NetworkMaps(this::storedPeers);
        this.registrations = new RegistrationWriter(state, ipam, durability, config.registrationQueue());
        this.credentials = new CredentialRegistry(state, tokens, clock, identity);
    }

    /** The relay's revocation signal, for the listeners to bind their sessions to. */
    CredentialRegistry credentials() {
        return credentials;
    }

    /** Stops the registration writer; registrations still queued fail as UNAVAILABLE. */
    void close() throws InterruptedException {
        credentials.close();
        registrations.close();
    }

    NetworkMaps maps() {
        return maps;
    }

    /** Refusals by reason, for relay:status and tests. */
    Map<String, Long> refusals() {
        Map<String, Long> out = new java.util.TreeMap<>();
        refusals.forEach((k, v) -> out.put(k, v.sum()));
        return out;
    }

    private StatusRuntimeException refuse(Status status, String reason, String remote) {
        count(reason);
        SECURITY.warn("control request refused: {} (from {})", reason, remote);
        return status.withDescription(reason).asRuntimeException();
    }

    /**
     * Counts a refusal by its kind: the reason up to its first ':' (what follows may be the caller's
     * own text, e.g. a token's "alg"), in a table of bounded size, so that no input grows it.
     */
    void count(String reason) {
        int colon = reason.indexOf(':');
        String kind = colon < 0 ? reason : reason.substring(0, colon);
        if (kind.length() > 64 || refusals.size() >= 128 && !refusals.containsKey(kind)) {
            kind = "other";
        }
        refusals.computeIfAbsent(kind, r -> new LongAdder()).increment();
    }

    // ---- registration ----

    @Override
    public void register(RegisterRequest request, StreamObserver<RegisterResponse> reply) {
        String remote = remote(Context.current());
        try {
            NodeInfo info = request.getNode();
            String problem = invalid(info);
            if (problem == null && KeyRotationVerifier.lowOrder(NodeKey.of(info.getWireguardPublicKey().toByteArray()))) {
                // In the tenant's map it would be a peer no node can add (a handshake with it is
                // refused): kept out, before a one-time credential is spent on it.
                problem = "wireguard_public_key is a low-order point";
            }
            if (problem != null) {
                throw refuse(Status.INVALID_ARGUMENT, "bad node info: " + problem, remote);
            }
            Instant now = clock.instant();
            NodeKey key = NodeKey.of(info.getWireguardPublicKey().toByteArray());
            NodeTokens.Claims own = request.getCredentialCase() == RegisterRequest.CredentialCase.NODE_TOKEN
                    ? ownNodeToken(request.getNodeToken(), remote, now) : null;
            // The budgets are charged once the credential names the tenant, and before a one-time
            // pre-auth key is used up: a refusal for a budget spends nothing the node needs again.
            String tenant = switch (request.getCredentialCase()) {
                case PRE_AUTH_KEY -> tenantOfPreAuthKey(request.getPreAuthKey(), remote, now,
                        t -> chargeRegistration(t, key, null, request.getPreAuthKey().substring(4, 16), remote, now));
                case OIDC_ACCESS_TOKEN -> tenantOfAccessToken(request.getOidcAccessToken(), remote);
                case NODE_TOKEN -> own.tenant();
                default -> throw refuse(Status.UNAUTHENTICATED, "no credential", remote);
            };
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
                throw refuse(Status.ALREADY_EXISTS, "this key is registered already: the node signs in with its own token,"
                        + " or an administrator removes it (relay:node delete)", remote);
            }
            java.util.concurrent.CompletableFuture<RegistrationWriter.Outcome> pending;
            try {
                pending = registrations.submit(new RelayState.Registration(tenant, key.toBase64(), info.getHostname(), info.getOs(),
                        info.getEndpointsList(), ownNodeId, own == null ? null : own.nodeKey(), now,
                        now.plusSeconds(config.refreshLifetimeSeconds())));
            } catch (RegistrationWriter.QueueFull full) {
                throw overBudget(new CallBudgets.Overdrawn("registrations waiting at the relay", QUEUE_RETRY), remote);
            }
            // The call's thread goes back to the pool while the writer works: the answer is made on
            // the pool when the write is flushed.
            pending.whenCompleteAsync((outcome, failure) -> answer(outcome, failure, tenant, key, own, rotating, now, remote, reply),
                    answers);
        } catch (StatusRuntimeException e) {
            fail(reply, e);
        } catch (SQLException e) {
            LOG.error("registration failed in the database: {}", e.toString());
            fail(reply, Status.UNAVAILABLE.withDescription("the relay's database failed; try again").asRuntimeException());
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
                throw refuse(Status.RESOURCE_EXHAUSTED, outcome.exhausted(), remote);
            }
            if (outcome.refusal() == RelayState.Refusal.KEY_TAKEN) {
                throw refuse(Status.ALREADY_EXISTS, "this key is registered already: the node signs in with its own token,"
                        + " or an administrator removes it (relay:node delete)", remote);
            }
            if (outcome.refusal() == RelayState.Refusal.KEY_RESERVED) {
                throw refuse(Status.PERMISSION_DENIED, "this key is reserved for the relay's CONNECT-IP gateway of the tenant", remote);
            }
            if (outcome.refusal() == RelayState.Refusal.NODE_REMOVED) {
                throw refuse(Status.UNAUTHENTICATED, "node removed", remote);
            }
            if (outcome.refusal() == RelayState.Refusal.KEY_CHANGED) {
                throw refuse(Status.PERMISSION_DENIED, "the token belongs to another node key", remote);
            }
            RelayState.Node node = outcome.node();
            Lease lease = outcome.lease();
            List<IpPrefix> prefixes = ipam.prefixes(tenant);
            StringBuilder jwt = new StringBuilder();
            Instant expires = tokens.issue(node.id(), tenant, key.toBase64(), now, jwt);
            credentials.renewed(node.id(), key.toBase64(), expires);
            RegisterResponse response = RegisterResponse.newBuilder().setNodeId(node.id()).setTenant(tenant)
                    .setRelayKey(ByteString.copyFrom(rotations.publicKey().toBytes()))
                    .setIpv4Address(addr(lease.ipv4()) + "/" + prefixLength(prefixes, 4, 32))
                    .setIpv6Address(addr(lease.ipv6()) + "/" + prefixLength(prefixes, 6, 128))
                    .setToken(NodeToken.newBuilder().setJwt(jwt.toString()).setExpiresAtEpochSeconds(expires.getEpochSecond())
                            .setRefreshToken(outcome.refreshToken())).build();
            maps.upsert(tenant, peer(node, lease));
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
                SECURITY.info("node {} of tenant {} rotated its key {} -> {}", node.id(), tenant, own.nodeKey(), key.toBase64());
            }
            LOG.info("node {} ({}) registered in tenant {}", node.id(), node.hostname(), tenant);
            try {
                reply.onNext(response);
                reply.onCompleted();
            } catch (RuntimeException cancelled) {
                LOG.debug("node {} had gone before its registration was answered", node.id());
            }
        } catch (StatusRuntimeException e) {
            fail(reply, e);
        } catch (SQLException e) {
            LOG.error("registration failed in the database: {}", e.toString());
            fail(reply, Status.UNAVAILABLE.withDescription("the relay's database failed; try again").asRuntimeException());
        } catch (RuntimeException e) {
            LOG.error("answering a registration failed", e);
            fail(reply, Status.INTERNAL.withDescription("the relay failed answering the registration").asRuntimeException());
        }
    }

    /** Ends a call with an error, unless it has ended already (the caller cancelled). */
    private static void fail(StreamObserver<?> reply, StatusRuntimeException e) {
        try {
            reply.onError(e);
        } catch (RuntimeException alreadyEnded) {
            // cancelled meanwhile: nobody to tell
        }
    }

    // ---- budgets of authenticated callers ----

    /** What a full registration queue tells the caller to wait: bursts take milliseconds, a full queue a few of them. */
    static final Duration QUEUE_RETRY = Duration.ofSeconds(1);
    /** The retry hint, as gRPC's retry pushback (gRFC A6) names it: milliseconds. */
    static final Metadata.Key<String> RETRY_PUSHBACK = Metadata.Key.of("grpc-retry-pushback-ms", Metadata.ASCII_STRING_MARSHALLER);

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
        charge(remote, now, charges.toArray(CallBudgets.Charge[]::new));
    }

    private void charge(String remote, Instant now, CallBudgets.Charge... charges) {
        Optional<CallBudgets.Overdrawn> over = budgets.take(now, charges);
        if (over.isPresent()) {
            throw overBudget(over.get(), remote);
        }
    }

    /** RESOURCE_EXHAUSTED naming the budget, with when to come back as text and as gRPC's retry pushback. */
    private StatusRuntimeException overBudget(CallBudgets.Overdrawn over, String remote) {
        long millis = over.retryAfter().toMillis();
        String reason = "too many " + over.what() + ": try again in " + Math.max(1, (millis + 999) / 1000) + " s";
        count(reason);
        SECURITY.warn("control request refused: {} (from {})", reason, remote);
        Metadata trailers = new Metadata();
        trailers.put(RETRY_PUSHBACK, Long.toString(millis));
        return Status.RESOURCE_EXHAUSTED.withDescription(reason).asRuntimeException(trailers);
    }

    /** @param admit charges the budgets once the key is found good, before a one-time key is used up (it throws to refuse) */
    private String tenantOfPreAuthKey(String presented, String remote, Instant now, java.util.function.Consumer<String> admit)
            throws SQLException {
        if (overFailureBudget(remote, now, false)) {
            throw refuse(Status.RESOURCE_EXHAUSTED, "too many failed pre-auth keys from this address; wait a minute", remote);
        }
        RelayState.KeyVerdict verdict = state.usePreAuthKey(presented, now, admit);
        if (verdict.check() != RelayState.KeyCheck.ACCEPTED) {
            overFailureBudget(remote, now, true);
            throw refuse(Status.UNAUTHENTICATED, "pre-auth key " + verdict.check().name().toLowerCase(), remote);
        }
        return verdict.tenant();
    }

    /**
     * A node token with a key other than its own is a rotation: only with proof that the caller
     * holds the private key the token names. A token alone must not move the node onto a key of
     * its holder's, which its peers would then take for the node.
     */
    private void checkRotationProof(RegisterRequest request, NodeTokens.Claims own, NodeKey key, String remote, Instant now) {
        if (!request.hasKeyRotation()) {
            throw refuse(Status.PERMISSION_DENIED, "a new key needs proof of the key the token names (key_rotation)", remote);
        }
        String why = rotations.check(own.nodeId(), NodeKey.parse(own.nodeKey()), key,
                request.getKeyRotation().getMadeAtEpochSeconds(), request.getKeyRotation().getMac().toByteArray(), now);
        if (why != null) {
            throw refuse(Status.PERMISSION_DENIED, why, remote);
        }
    }

    /** Sign-in at the tenant's OpenID Provider: its access token, verified against its keys, names the tenant. */
    private String tenantOfAccessToken(String token, String remote) {
        io.cloudbridge.api.auth.IdentityVerifier verifier = identity.get();
        if (verifier == null) {
            throw refuse(Status.UNIMPLEMENTED, "OIDC sign-in is not configured on this relay (section identity)", remote);
        }
        try {
            io.cloudbridge.api.auth.VerifiedIdentity who = verifier.verify(token);
            LOG.info("OIDC sign-in of {} from {} for tenant {}", who.subject(), who.issuer(), who.tenant());
            return who.tenant();
        } catch (io.cloudbridge.api.auth.CredentialRejectedException e) {
            throw refuse(Status.UNAUTHENTICATED, "access token: " + e.getMessage(), remote);
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
            throw refuse(Status.UNAUTHENTICATED, e.getMessage(), remote);
        }
        Optional<RelayState.Node> node = state.node(claims.nodeId());
        if (node.isEmpty()) {
            throw refuse(Status.UNAUTHENTICATED, "node removed", remote);
        }
        if (!node.get().key().equals(claims.nodeKey())) {
            throw refuse(Status.PERMISSION_DENIED, "the token belongs to another node key", remote);
        }
        return claims;
    }

    /**
     * Guessing keys costs: at most {@code preAuthFailuresPerMinute} failures per source address in
     * any 60 seconds (a sliding window: a burst across a minute's turn gets no second budget). The
     * table is bounded; sources silent for a minute leave it first.
     */
    private synchronized boolean overFailureBudget(String remote, Instant now, boolean failed) {
        long cutoff = now.getEpochSecond() - 60;
        java.util.ArrayDeque<Long> times = keyFailures.get(host(remote));
        if (times != null) {
            while (!times.isEmpty() && times.peekFirst() <= cutoff) {
                times.pollFirst();
            }
        }
        if (failed) {
            if (times == null) {
                if (keyFailures.size() >= 10_000) {
                    keyFailures.values().removeIf(t -> t.isEmpty() || t.peekLast() <= cutoff);
                }
                if (keyFailures.size() >= 10_000) {
                    return false; // full of live sources: this one is refused by its key alone
                }
                times = new java.util.ArrayDeque<>();
                keyFailures.put(host(remote), times);
            }
            times.addLast(now.getEpochSecond());
            while (times.size() > config.preAuthFailuresPerMinute()) {
                times.pollFirst();
            }
        }
        return times != null && times.size() >= config.preAuthFailuresPerMinute();
    }

    private static String host(String remote) {
        int colon = remote.lastIndexOf(':');
        return colon > 0 ? remote.substring(0, colon) : remote;
    }

    /** An address as people write it (RFC 5952 for IPv6: fd12::7, not fd12:0:0:0:0:0:0:7). */
    static String addr(java.net.InetAddress a) {
        return com.google.common.net.InetAddresses.toAddrString(a);
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

    private NodeToken token(String nodeId, String tenant, String nodeKey, Instant now) throws SQLException {
        StringBuilder jwt = new StringBuilder();
        Instant expires = tokens.issue(nodeId, tenant, nodeKey, now, jwt);
        credentials.renewed(nodeId, nodeKey, expires);
        String refresh = state.createRefreshToken(nodeId, now.plusSeconds(config.refreshLifetimeSeconds()));
        return NodeToken.newBuilder().setJwt(jwt.toString()).setExpiresAtEpochSeconds(expires.getEpochSecond())
                .setRefreshToken(refresh).build();
    }

    @Override
    public void refreshToken(RefreshTokenRequest request, StreamObserver<RefreshTokenResponse> reply) {
        String remote = remote(Context.current());
        try {
            Instant now = clock.instant();
            // Charged before the token is used up: a renewal refused for a budget leaves the node its token.
            Optional<RelayState.Node> node = state.useRefreshToken(request.getRefreshToken(), now,
                    id -> nodeOrEmpty(id).ifPresent(n -> charge(remote, now,
                            new CallBudgets.Charge("renew/node/" + n.id(), config.renewalsPerNodePerMinute(), "renewals of this node"),
                            new CallBudgets.Charge("renew/tenant/" + n.tenant(), config.renewalsPerTenantPerMinute(),
                                    "renewals in this tenant")))).flatMap(this::nodeOrEmpty);
            if (node.isEmpty()) {
                throw refuse(Status.UNAUTHENTICATED, "refresh token unknown, used or expired", remote);
            }
            RelayState.Node n = node.get();
            NodeToken renewed = token(n.id(), n.tenant(), n.key(), now);
            durability.sync(); // the new refresh token is kept, the used one gone, before the node hears of it
            reply.onNext(RefreshTokenResponse.newBuilder().setToken(renewed)
                    .setRelayKey(ByteString.copyFrom(rotations.publicKey().toBytes())).build());
            reply.onCompleted();
        } catch (StatusRuntimeException e) {
            reply.onError(e);
        } catch (SQLException e) {
            reply.onError(Status.UNAVAILABLE.withDescription("the relay's database failed; try again").asRuntimeException());
        }
    }

    private Optional<RelayState.Node> nodeOrEmpty(String id) {
        try {
            return state.node(id);
        } catch (SQLException e) {
            throw Status.UNAVAILABLE.withDescription("the relay's database failed; try again").asRuntimeException();
        }
    }

    // ---- the network map ----

    @Override
    public void watchNetworkMap(WatchNetworkMapRequest request, StreamObserver<NetworkMapUpdate> updates) {
        NodeTokens.Claims node = NODE.get();
        try {
            // Each open sends the tenant's whole map: a node reopening in a loop is held to its budget.
            charge(remote(Context.current()), clock.instant(),
                    new CallBudgets.Charge("map/node/" + node.nodeId(), config.mapOpensPerNodePerMinute(), "map opens of this node"),
                    new CallBudgets.Charge("map/tenant/" + node.tenant(), config.mapOpensPerTenantPerMinute(), "map opens in this tenant"));
        } catch (StatusRuntimeException e) {
            fail(updates, e);
            return;
        }
        ServerCallStreamObserver<NetworkMapUpdate> stream = (ServerCallStreamObserver<NetworkMapUpdate>) updates;
        java.util.concurrent.atomic.AtomicReference<CredentialRegistry.Bound> bound = new java.util.concurrent.atomic.AtomicReference<>();
        java.util.function.Consumer<Status> end = maps.watch(node.tenant(), node.nodeId(), stream, () -> closeBinding(bound));
        // Bound after the watch is in place, so that a revocation at any moment finds something to end.
        bindStream(node, stream, bound, end);
    }

    /**
     * Binds a streaming call to the token that opened it: the stream ends when the node is removed,
     * rotates its key, or lets its token expire without renewal. A stream whose token was revoked
     * after the interceptor checked it ends at once. The binding goes when the call ends: the
     * stream's cancel handler (set by the caller) calls {@link #closeBinding}, its close handler here.
     * A database that fails meanwhile ends the stream UNAVAILABLE (the node opens it again), not
     * UNAUTHENTICATED: nothing is wrong with the node's token.
     */
    private void bindStream(NodeTokens.Claims node, ServerCallStreamObserver<?> stream,
            java.util.concurrent.atomic.AtomicReference<CredentialRegistry.Bound> holder, java.util.function.Consumer<Status> end) {
        CredentialRegistry.Bound bound;
        try {
            bound = credentials.bindNode(node.nodeId(), node.nodeKey(), node.expires(),
                    reason -> end.accept(Status.UNAUTHENTICATED.withDescription(reason)));
        } catch (io.cloudbridge.api.auth.CredentialRejectedException e) {
            count(e.getMessage());
            SECURITY.warn("stream of node {} refused: {}", node.nodeId(), e.getMessage());
            end.accept(Status.UNAUTHENTICATED.withDescription(e.getMessage()));
            return;
        } catch (io.cloudbridge.api.relay.CredentialCheckUnavailableException e) {
            LOG.warn("stream of node {} ended: {}", node.nodeId(), e.getMessage());
            end.accept(Status.UNAVAILABLE.withDescription(e.getMessage()));
            return;
        }
        holder.set(bound);
        stream.setOnCloseHandler(bound::close);
        if (stream.isCancelled()) {
            bound.close(); // cancelled before the binding was there for the cancel handler to close
        }
    }

    private static void closeBinding(java.util.concurrent.atomic.AtomicReference<CredentialRegistry.Bound> holder) {
        CredentialRegistry.Bound b = holder.get();
        if (b != null) {
            b.close();
        }
    }

    private List<Peer> storedPeers(String tenant) {
        try {
            Map<String, Lease> leases = new HashMap<>();
            for (Lease l : ipam.leases(tenant)) {
                leases.put(l.node().toBase64(), l);
            }
            List<Peer> out = new ArrayList<>();
            for (RelayState.Node n : state.nodes(tenant)) {
                out.add(peer(n, leases.get(n.key())));
            }
            return out;
        } catch (SQLException e) {
            throw Status.UNAVAILABLE.withDescription("the relay's database failed; try again").asRuntimeException();
        }
    }

    private Peer peer(RelayState.Node n, Lease lease) {
        Peer.Builder p = Peer.newBuilder().setNodeId(n.id()).setWireguardPublicKey(ByteString.copyFrom(NodeKey.parse(n.key()).toBytes()))
                .setHostname(n.hostname()).addAllEndpoints(n.endpoints()).setHomeRelay(homeRelay);
        if (lease != null) {
            p.addOverlayAddresses(addr(lease.ipv4()) + "/32").addOverlayAddresses(addr(lease.ipv6()) + "/128");
        }
        return p.build();
    }

    // ---- heartbeat ----

    @Override
    public void heartbeat(HeartbeatRequest request, StreamObserver<HeartbeatResponse> reply) {
        NodeTokens.Claims claims = NODE.get();
        try {
            List<String> endpoints = request.getStatus().getEndpointsList();
            NodeInfo probe = NodeInfo.newBuilder().setWireguardPublicKey(ByteString.copyFrom(new byte[NodeKey.LENGTH]))
                    .setHostname("x").addAllEndpoints(endpoints).build();
            String problem = invalid(probe);
            if (problem != null) {
                throw refuse(Status.INVALID_ARGUMENT, "bad status: " + problem, remote(Context.current()));
            }
            Instant now = clock.instant();
            RelayState.Node node = state.node(claims.nodeId()).orElseThrow(
                    () -> refuse(Status.UNAUTHENTICATED, "node removed", remote(Context.current())));
            state.updateEndpoints(node.id(), endpoints, now);
            if (!node.endpoints().equals(endpoints)) {
                Lease lease = ipam.lease(node.tenant(), NodeKey.parse(node.key())).orElse(null);
                maps.upsert(node.tenant(), peer(new RelayState.Node(node.id(), node.tenant(), node.key(), node.hostname(), node.os(),
                        endpoints, node.created(), now), lease));
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

    // ---- signalling ----

    private static final class SignalStream {
        final String tenant;
        final ServerCallStreamObserver<SignalMessage> out;

        SignalStream(String tenant, ServerCallStreamObserver<SignalMessage> out) {
            this.tenant = tenant;
            this.out = out;
        }

        synchronized void send(SignalMessage m) {
            out.onNext(m);
        }
    }

    @Override
    public StreamObserver<SignalMessage> signal(StreamObserver<SignalMessage> responses) {
        NodeTokens.Claims me = NODE.get();
        ServerCallStreamObserver<SignalMessage> out = (ServerCallStreamObserver<SignalMessage>) responses;
        SignalStream mine = new SignalStream(me.tenant(), out);
        SignalStream replaced = signalStreams.put(me.nodeId(), mine);
        if (replaced != null) {
            synchronized (replaced) {
                try {
                    replaced.out.onError(Status.ABORTED.withDescription("replaced by a newer signalling stream").asRuntimeException());
                } catch (RuntimeException alreadyClosed) {
                    // it ended by itself
                }
            }
        }
        java.util.concurrent.atomic.AtomicReference<CredentialRegistry.Bound> bound = new java.util.concurrent.atomic.AtomicReference<>();
        out.setOnCancelHandler(() -> {
            signalStreams.remove(me.nodeId(), mine);
            closeBinding(bound);
        });
        bindStream(me, out, bound, status -> {
            signalStreams.remove(me.nodeId(), mine);
            synchronized (mine) {
                try {
                    out.onError(status.asRuntimeException());
                } catch (RuntimeException alreadyClosed) {
                    // it ended by itself
                }
            }
        });
        return new StreamObserver<>() {
            @Override
            public void onNext(SignalMessage m) {
                if (m.getPayload().size() > MAX_SIGNAL_PAYLOAD || m.getPayloadType().length() > 64 || m.getToNodeId().isEmpty()) {
                    count("bad signal message");
                    return;
                }
                SignalStream to = signalStreams.get(m.getToNodeId());
                // Only within the tenant: a node of another tenant is as unknown as one that does not exist.
                if (to == null || !to.tenant.equals(me.tenant()) || to == mine) {
                    count("signal recipient not connected");
                    return;
                }
                // A recipient that does not read is not buffered for: its messages are dropped.
                if (!to.out.isReady()) {
                    count("signal recipient not reading");
                    return;
                }
                try {
                    to.send(m.toBuilder().setFromNodeId(me.nodeId()).build());
                } catch (RuntimeException e) {
                    count("signal recipient gone");
                }
            }

            @Override
            public void onError(Throwable t) {
                signalStreams.remove(me.nodeId(), mine);
                closeBinding(bound);
            }

            @Override
            public void onCompleted() {
                signalStreams.remove(me.nodeId(), mine);
                closeBinding(bound);
                synchronized (mine) {
                    out.onCompleted();
                }
            }
        };
    }

    // ---- revocation ----

    /**
     * Removes a node: its token stops working at once, every session it opened ends now (map and
     * signalling streams, relay ports, MASQUE tunnels: whatever bound itself to its credential),
     * its addresses are released.
     */
    Optional<RelayState.Node> deleteNode(String nodeId) throws SQLException {
        Optional<RelayState.Node> node = state.deleteNode(nodeId);
        node.ifPresent(n -> {
            ipam.release(n.tenant(), NodeKey.parse(n.key()));
            try {
                durability.sync();
            } catch (SQLException e) {
                LOG.warn("the removal of node {} may not outlive a crash: {}", n.id(), e.toString());
            }
            maps.remove(n.tenant(), n.id());
            // After the database forgot the node: a session binding itself from now on is refused.
            credentials.revokeNode(n.id(), "node removed");
            io.cloudbridge.api.relay.PacketSwitch relaySwitch = dataPlane.get();
            if (relaySwitch != null) {
                // For a transport plugin that does not bind its ports (a vendor's).
                relaySwitch.disconnect(n.tenant(), NodeKey.parse(n.key()), "node removed");
            }
            SECURITY.info("node {} of tenant {} removed; its token is void", n.id(), n.tenant());
        });
        return node;
    }

    // ---- the data plane's sessions ----

    /**
     * Authenticates a transport session by the node's token, as the control calls are: the
     * relay's own signature, unexpired, and the node still registered with that key.
     */
    io.cloudbridge.api.relay.NodeSessionAuthenticator sessionAuthenticator() {
        return token -> {
            NodeTokens.Claims claims;
            try {
                claims = tokens.verify(token, clock.instant());
            } catch (NodeTokens.Refused e) {
                throw sessionRefused(e.getMessage());
            }
            Optional<RelayState.Node> node;
            try {
                node = state.node(claims.nodeId());
            } catch (SQLException e) {
                // Not the node's fault: the transports answer "try again" (503, BUSY), not a refusal.
                throw new io.cloudbridge.api.relay.CredentialCheckUnavailableException("the relay's database failed; try again", e);
            }
            if (node.isEmpty() || !node.get().key().equals(claims.nodeKey())) {
                throw sessionRefused("node removed");
            }
            return new io.cloudbridge.api.relay.AuthenticatedNode(claims.nodeId(), claims.tenant(), NodeKey.parse(claims.nodeKey()));
        };
    }

    private io.cloudbridge.api.auth.CredentialRejectedException sessionRefused(String reason) {
        count(reason);
        SECURITY.warn("relay session refused: {}", reason);
        return new io.cloudbridge.api.auth.CredentialRejectedException(reason);
    }

    // ---- what gRPC refuses before the service sees it ----

    /**
     * Watches every call's end for the refusals gRPC makes itself, before any of the relay's code
     * runs: a message over the size limit (a megabyte token in a registration, say) and bytes that
     * do not parse as the method's message. They are counted and logged as security events like
     * the relay's own refusals.
     */
    io.grpc.ServerStreamTracer.Factory refusalWatcher() {
        return new io.grpc.ServerStreamTracer.Factory() {
            @Override
            public io.grpc.ServerStreamTracer newServerStreamTracer(String method, Metadata headers) {
                return new io.grpc.ServerStreamTracer() {
                    private volatile String remote = "unknown";

                    @Override
                    public void serverCallStarted(ServerCallInfo<?, ?> call) {
                        SocketAddress a = call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR);
                        remote = a == null ? "unknown" : a.toString();
                    }

                    @Override
                    public void streamClosed(Status status) {
                        String kind = grpcRefusal(status);
                        if (kind != null) {
                            count(kind);
                            SECURITY.warn("control request refused: {} in {} ({}) (from {})", kind, method, status.getCode(), remote);
                        }
                    }
                };
            }
        };
    }

    /** The kind of refusal gRPC made itself, or null for any other end of a call (the relay's own refusals are counted where made). */
    static String grpcRefusal(Status status) {
        String description = status.getDescription() == null ? "" : status.getDescription();
        if (status.getCode() == Status.Code.RESOURCE_EXHAUSTED && description.startsWith("gRPC message exceeds maximum size")) {
            return "oversized message";
        }
        for (Throwable t = status.getCause(); t != null; t = t.getCause()) {
            if (t instanceof com.google.protobuf.InvalidProtocolBufferException) {
                return "malformed message";
            }
        }
        if ((status.getCode() == Status.Code.INTERNAL || status.getCode() == Status.Code.UNKNOWN)
                && description.contains("protobuf")) {
            return "malformed message";
        }
        return null;
    }

    // ---- authentication of everything but Register and RefreshToken ----

    ServerInterceptor authenticator() {
        return new ServerInterceptor() {
            @Override
            public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
                String method = call.getMethodDescriptor().getBareMethodName();
                String remote = address(call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR));
                Context context = Context.current().withValue(REMOTE, remote);
                if ("Register".equals(method) || "RefreshToken".equals(method)) {
                    return Contexts.interceptCall(context, call, headers, next);
                }
                String header = headers.get(AUTHORIZATION);
                try {
                    if (header == null || !header.startsWith("Bearer ")) {
                        throw new NodeTokens.Refused("no bearer token");
                    }
                    NodeTokens.Claims claims = tokens.verify(header.substring(7).trim(), clock.instant());
                    Optional<RelayState.Node> node = state.node(claims.nodeId());
                    if (node.isEmpty()) {
                        throw new NodeTokens.Refused("node removed");
                    }
                    if (!node.get().tenant().equals(claims.tenant()) || !node.get().key().equals(claims.nodeKey())) {
                        throw new NodeTokens.Refused("token does not match the node");
                    }
                    return Contexts.interceptCall(context.withValue(NODE, claims), call, headers, next);
                } catch (NodeTokens.Refused e) {
                    count(e.getMessage());
                    SECURITY.warn("control call {} refused: {} (from {})", method, e.getMessage(), remote);
                    call.close(Status.UNAUTHENTICATED.withDescription(e.getMessage()), new Metadata());
                } catch (SQLException e) {
                    call.close(Status.UNAVAILABLE.withDescription("the relay's database failed; try again"), new Metadata());
                }
                return new ServerCall.Listener<>() { };
            }
        };
    }

    static final Context.Key<String> REMOTE = Context.key("cloudbridge-remote");

    private static String remote(Context context) {
        String r = REMOTE.get(context);
        return r == null ? "unknown" : r;
    }

    private static String address(SocketAddress a) {
        if (a instanceof InetSocketAddress i) {
            return i.getAddress().getHostAddress() + ":" + i.getPort();
        }
        return String.valueOf(a);
    }

    Duration tokenLifetime() {
        return Duration.ofSeconds(config.tokenLifetimeSeconds());
    }
}
