package io.cloudbridge.control.relay.internal;

import io.cloudbridge.api.ipam.AddressAllocator;
import io.cloudbridge.control.v1.ControlServiceGrpc;
import io.cloudbridge.control.v1.HeartbeatRequest;
import io.cloudbridge.control.v1.HeartbeatResponse;
import io.cloudbridge.control.v1.NetworkMapUpdate;
import io.cloudbridge.control.v1.RefreshTokenRequest;
import io.cloudbridge.control.v1.RefreshTokenResponse;
import io.cloudbridge.control.v1.RegisterRequest;
import io.cloudbridge.control.v1.RegisterResponse;
import io.cloudbridge.control.v1.SignalMessage;
import io.cloudbridge.control.v1.WatchNetworkMapRequest;
import io.grpc.Context;
import io.grpc.Metadata;
import io.grpc.ServerInterceptor;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The relay's side of {@code cloudbridge.control.v1.ControlService}. Registration takes a
 * credential from the request; every other call is authenticated by {@link #authenticator()} from
 * the node's own token, and acts on that node and its tenant only.
 *
 * <p>This class wires the service together and hands each call to the class of its role:
 * {@link NodeRegistration}, {@link TokenRenewal}, {@link NetworkMapStreams}, {@link Heartbeats},
 * {@link SignalRelay}, {@link NodeRemoval} and {@link CallAuthentication}. The state they share
 * (the tenants' maps, the credentials' sessions, the refusal counts and call budgets) is made here
 * once and handed to each.
 */
final class ControlService extends ControlServiceGrpc.ControlServiceImplBase {
    /** Refused credentials and other security-relevant events, for whoever watches for attacks. */
    static final Logger SECURITY = LoggerFactory.getLogger("io.cloudbridge.security");
    static final Context.Key<NodeTokens.Claims> NODE = Context.key("cloudbridge-node");
    static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
    static final Context.Key<String> REMOTE = Context.key("cloudbridge-remote");

    private final RelayConfig config;
    private final NetworkMaps maps;
    private final TenantPolicies policies;
    private final MapPeers mapPeers;
    private final RelayState state;
    private final AddressAllocator ipam;
    private final RegistrationWriter registrations;
    /** Every session a node token or an access token opened, on every listener: what revocation ends. */
    private final CredentialRegistry credentials;
    private final ControlRefusals refusals = new ControlRefusals();
    private final NodeRegistration registration;
    private final TokenRenewal renewal;
    private final NetworkMapStreams mapStreams;
    private final Heartbeats heartbeats;
    private final SignalRelay signals;
    private final NodeRemoval removal;
    private final CallAuthentication authentication;

    ControlService(RelayState state, NodeTokens tokens, AddressAllocator ipam, Clock clock, RelayConfig config, String homeRelay,
            java.util.function.Supplier<io.cloudbridge.api.auth.IdentityVerifier> identity, io.cloudbridge.store.Durability durability,
            java.util.function.Supplier<io.cloudbridge.api.relay.PacketSwitch> dataPlane, KeyRotationVerifier rotations,
            java.util.concurrent.Executor answers, io.cloudbridge.api.policy.PolicyCompiler policyCompiler) {
        this.config = config;
        MapPeers peers = new MapPeers(state, ipam, homeRelay);
        this.mapPeers = peers;
        this.state = state;
        this.ipam = ipam;
        this.policies = new TenantPolicies(state, policyCompiler, clock);
        this.maps = new NetworkMaps(peers::storedPeers, policies::load);
        policies.maps(maps);
        this.registrations = new RegistrationWriter(state, ipam, durability, config.registrationQueue());
        this.credentials = new CredentialRegistry(state, tokens, clock, identity);
        ControlBudgets budgets = new ControlBudgets(refusals);
        StreamBindings bindings = new StreamBindings(credentials, refusals);
        this.registration = new NodeRegistration(state, tokens, ipam, maps, peers, clock, config, identity, registrations, dataPlane,
                rotations, answers, credentials, refusals, budgets, new PreAuthKeyFailures(config));
        this.renewal = new TokenRenewal(state, tokens, clock, config, durability, rotations, credentials, refusals, budgets);
        this.mapStreams = new NetworkMapStreams(maps, clock, config, budgets, bindings);
        this.heartbeats = new Heartbeats(state, ipam, maps, peers, clock, config, refusals);
        this.signals = new SignalRelay(refusals, bindings);
        this.removal = new NodeRemoval(state, ipam, durability, maps, credentials, dataPlane);
        this.authentication = new CallAuthentication(state, tokens, clock, refusals);
    }

    /** Tenants' access policies, for the relay's commands. */
    TenantPolicies policies() {
        return policies;
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
        return refusals.counts();
    }

    /** Sign-ins refused for {@code reason} since the relay started, for the meters. */
    long refused(AuthRefusal reason) {
        return refusals.refused(reason);
    }

    /** Registrations accepted since the relay started, for the meters. */
    long registered() {
        return registration.registered();
    }

    /** Key rotations accepted since the relay started, for the meters. */
    long rotated() {
        return registration.rotated();
    }

    /** Token renewals accepted since the relay started, for the meters. */
    long renewed() {
        return renewal.renewed();
    }

    @Override
    public void register(RegisterRequest request, StreamObserver<RegisterResponse> reply) {
        registration.register(request, reply);
    }

    @Override
    public void refreshToken(RefreshTokenRequest request, StreamObserver<RefreshTokenResponse> reply) {
        renewal.refreshToken(request, reply);
    }

    @Override
    public void watchNetworkMap(WatchNetworkMapRequest request, StreamObserver<NetworkMapUpdate> updates) {
        mapStreams.watchNetworkMap(request, updates);
    }

    @Override
    public void heartbeat(HeartbeatRequest request, StreamObserver<HeartbeatResponse> reply) {
        heartbeats.heartbeat(request, reply);
    }

    @Override
    public StreamObserver<SignalMessage> signal(StreamObserver<SignalMessage> responses) {
        return signals.signal(responses);
    }

    /** Removes a node and ends everything its credential opened: see {@link NodeRemoval}. */
    /**
     * Gives a node these tags instead of those it had; its tenant's policy and every map follow.
     * False when there is no such node.
     */
    boolean tagNode(String nodeId, java.util.List<String> tags) throws SQLException {
        if (!state.tagNode(nodeId, tags)) {
            return false;
        }
        Optional<RelayState.Node> n = state.node(nodeId);
        if (n.isPresent()) {
            RelayState.Node node = n.get();
            maps.upsert(node.tenant(), mapPeers.entry(node, ipam.lease(node.tenant(),
                    io.cloudbridge.api.net.NodeKey.parse(node.key())).orElse(null)));
            SECURITY.info("node {} of tenant {} now has tags {}", nodeId, node.tenant(), tags);
        }
        return n.isPresent();
    }

    Optional<RelayState.Node> deleteNode(String nodeId) throws SQLException {
        return removal.deleteNode(nodeId);
    }

    /** Authenticates a data plane session by the node's token, as the control calls are. */
    io.cloudbridge.api.relay.NodeSessionAuthenticator sessionAuthenticator() {
        return authentication.sessionAuthenticator();
    }

    /** Counts and logs the refusals gRPC makes itself, before the service sees the call. */
    io.grpc.ServerStreamTracer.Factory refusalWatcher() {
        return refusals.refusalWatcher();
    }

    /** Authenticates everything but Register and RefreshToken. */
    ServerInterceptor authenticator() {
        return authentication.authenticator();
    }

    /** The caller's address, which the interceptor puts in every call's context, for the security log. */
    static String remote(Context context) {
        String r = REMOTE.get(context);
        return r == null ? "unknown" : r;
    }

    /** Ends a call with an error, unless it has ended already (the caller cancelled). */
    static void fail(StreamObserver<?> reply, StatusRuntimeException e) {
        try {
            reply.onError(e);
        } catch (RuntimeException alreadyEnded) {
            // cancelled meanwhile: nobody to tell
        }
    }

    Duration tokenLifetime() {
        return Duration.ofSeconds(config.tokenLifetimeSeconds());
    }
}
