package io.cloudbridge.control.node.internal;

import com.google.protobuf.ByteString;
import io.cloudbridge.api.overlay.OverlayDevice;
import io.cloudbridge.boot.RuntimeProperties;
import io.cloudbridge.control.v1.ControlServiceGrpc;
import io.cloudbridge.control.v1.HeartbeatRequest;
import io.cloudbridge.control.v1.HeartbeatResponse;
import io.cloudbridge.control.v1.NetworkMapUpdate;
import io.cloudbridge.control.v1.NodeInfo;
import io.cloudbridge.control.v1.NodeStatus;
import io.cloudbridge.control.v1.NodeToken;
import io.cloudbridge.control.v1.Peer;
import io.cloudbridge.control.v1.RefreshTokenRequest;
import io.cloudbridge.control.v1.RegisterRequest;
import io.cloudbridge.control.v1.RegisterResponse;
import io.cloudbridge.control.v1.WatchNetworkMapRequest;
import io.grpc.CallCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import io.cloudbridge.api.net.HostName;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.metatype.annotations.Designate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This node's session with its relay: sign-in (the stored refresh token, else a pre-auth key),
 * registration under the overlay's WireGuard key, the tenant's network map kept current from the
 * relay's deltas, the node token renewed when two thirds of its life are gone, and heartbeats. A
 * lost connection is retried with jittered, growing waits; a node the relay removed stops.
 *
 * <p>All of it runs on one scheduler thread, so the state below changes in one place.
 */
@Component(service = {NodeControlClient.class, io.cloudbridge.api.mesh.Signalling.class, io.cloudbridge.api.mesh.PeerDirectory.class,
        io.cloudbridge.api.event.StateChangeListener.class},
        configurationPid = "cloudbridge.control", immediate = true)
@Designate(ocd = NodeControlConfig.class)
public final class NodeControlClient implements io.cloudbridge.api.mesh.Signalling, io.cloudbridge.api.mesh.PeerDirectory,
        io.cloudbridge.api.event.StateChangeListener {
    private static final Logger LOG = LoggerFactory.getLogger(NodeControlClient.class);
    static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

    /**
     * The overlay, for this node's key. Dynamic: replacing the WireGuard bundle (bundle update)
     * must not sign the node out and in again; the key stays the same (its file or keyring entry),
     * and the new interface gets the node's addresses and peers at once (see bindOverlayPeers).
     */
    @Reference(cardinality = org.osgi.service.component.annotations.ReferenceCardinality.OPTIONAL,
            policy = org.osgi.service.component.annotations.ReferencePolicy.DYNAMIC,
            policyOption = org.osgi.service.component.annotations.ReferencePolicyOption.GREEDY)
    void bindOverlay(OverlayDevice device) {
        overlay = device;
        followOverlayKey(device);
    }

    void unbindOverlay(OverlayDevice device) {
        // The key is kept: a replacement interface (bundle update) comes with the same one.
    }

    /**
     * Registers again when the overlay's key is not the one this node registered with. Checked on
     * binding and at each heartbeat: the interface can change its key in place (a new key file
     * in its configuration) without its service being bound again.
     */
    private void followOverlayKey(OverlayDevice device) {
        io.cloudbridge.api.net.NodeKey key = device.publicKey();
        io.cloudbridge.api.net.NodeKey before = nodeKey;
        nodeKey = key;
        ScheduledExecutorService s = scheduler;
        if (before != null && !before.equals(key) && s != null) {
            LOG.warn("the overlay's key changed ({} -> {}): registering again with the new key", before, key);
            status = "registering its new key";
            s.execute(() -> {
                withdrawHomeRelay();
                registration = null;
                signIn();
            });
        }
    }

    /** The key, node id and relay rotation key of the last registration: what a key rotation proves itself against. */
    private volatile io.cloudbridge.api.net.NodeKey registeredKey;
    private volatile String registeredNodeId;
    private volatile io.cloudbridge.api.net.NodeKey relayRotationKey;
    /** The key the published HomeRelay's credentials name. */
    private volatile io.cloudbridge.api.net.NodeKey publishedKey;

    /** The overlay last bound, whose key is read again before each registration. */
    private volatile OverlayDevice overlay;

    /** This node's WireGuard key, from the overlay; null until an overlay has been seen. */
    private volatile io.cloudbridge.api.net.NodeKey nodeKey;
    /** OIDC sign-in (device flow or client credentials), when the oidc section configures it. */
    private volatile io.cloudbridge.api.auth.TokenProvider tokens;

    /**
     * The OS keyring (or its owner-only file fallback), when the credentials bundle runs: the
     * refresh token goes there; without it, to an owner-only file of this bundle's own.
     */
    @Reference(cardinality = org.osgi.service.component.annotations.ReferenceCardinality.OPTIONAL,
            policy = org.osgi.service.component.annotations.ReferencePolicy.DYNAMIC,
            policyOption = org.osgi.service.component.annotations.ReferencePolicyOption.GREEDY)
    private volatile io.cloudbridge.api.auth.CredentialStore credentials;
    static final String CREDENTIAL_SERVICE = "cloudbridge";

    private String refreshAccount() {
        return "refresh-token/" + config.relay();
    }

    private String readRefreshToken() throws IOException {
        io.cloudbridge.api.auth.CredentialStore store = credentials;
        if (store != null) {
            java.util.Optional<String> kept = store.read(CREDENTIAL_SERVICE, refreshAccount());
            if (kept.isPresent()) {
                return kept.get();
            }
        }
        return readSecret(stateFolder.resolve("refresh-token"));
    }

    private void writeRefreshToken(String token) throws IOException {
        io.cloudbridge.api.auth.CredentialStore store = credentials;
        if (store != null) {
            store.write(CREDENTIAL_SERVICE, refreshAccount(), token);
            Files.deleteIfExists(stateFolder.resolve("refresh-token")); // one place only
        } else {
            io.cloudbridge.boot.config.SecretFiles.writeOwnerOnly(stateFolder.resolve("refresh-token"), token);
        }
    }

    private void forgetRefreshToken() throws IOException {
        io.cloudbridge.api.auth.CredentialStore store = credentials;
        if (store != null) {
            store.delete(CREDENTIAL_SERVICE, refreshAccount());
        }
        Files.deleteIfExists(stateFolder.resolve("refresh-token"));
    }

    @Reference(cardinality = org.osgi.service.component.annotations.ReferenceCardinality.OPTIONAL,
            policy = org.osgi.service.component.annotations.ReferencePolicy.DYNAMIC,
            policyOption = org.osgi.service.component.annotations.ReferencePolicyOption.GREEDY)
    void bindTokens(io.cloudbridge.api.auth.TokenProvider provider) {
        tokens = provider;
        ScheduledExecutorService s = scheduler;
        // A sign-in that found no credential tries again with the one that just arrived.
        if (s != null && registration == null && status.startsWith("not signed in")) {
            s.execute(this::signIn);
        }
    }

    void unbindTokens(io.cloudbridge.api.auth.TokenProvider provider) {
        if (tokens == provider) {
            tokens = null;
        }
    }

    /** The overlay's control-plane membership: this node's addresses and its tenant's peers. */
    private volatile io.cloudbridge.api.overlay.OverlayPeers overlayPeers;

    /** A new overlay (the WireGuard bundle replaced) gets the node's addresses and peers at once. */
    @Reference(cardinality = org.osgi.service.component.annotations.ReferenceCardinality.OPTIONAL,
            policy = org.osgi.service.component.annotations.ReferencePolicy.DYNAMIC,
            policyOption = org.osgi.service.component.annotations.ReferencePolicyOption.GREEDY)
    void bindOverlayPeers(io.cloudbridge.api.overlay.OverlayPeers peers) {
        overlayPeers = peers;
        if (scheduler != null) {
            try {
                queueOverlayUpdate();
            } catch (java.util.concurrent.RejectedExecutionException stopping) {
                // this component is being deactivated
            }
        }
    }

    void unbindOverlayPeers(io.cloudbridge.api.overlay.OverlayPeers peers) {
        if (overlayPeers == peers) {
            overlayPeers = null;
        }
    }

    /** Who hears the signalling messages other nodes send this one (NAT traversal). */
    private final List<io.cloudbridge.api.mesh.SignalListener> signalListeners = new java.util.concurrent.CopyOnWriteArrayList<>();

    @Reference(cardinality = org.osgi.service.component.annotations.ReferenceCardinality.MULTIPLE,
            policy = org.osgi.service.component.annotations.ReferencePolicy.DYNAMIC)
    void addSignalListener(io.cloudbridge.api.mesh.SignalListener l) {
        signalListeners.add(l);
    }

    void removeSignalListener(io.cloudbridge.api.mesh.SignalListener l) {
        signalListeners.remove(l);
    }

    /** The signalling stream while it is open; sends are serialised on it (gRPC's observers are not thread-safe). */
    private volatile io.grpc.stub.ClientCallStreamObserver<io.cloudbridge.control.v1.SignalMessage> signalOut;
    private int signalFailures;
    /** The map stream now: one at a time, and callbacks of a replaced one are ignored. */
    private volatile io.grpc.stub.ClientCallStreamObserver<WatchNetworkMapRequest> mapCall;
    /** The next heartbeat: one chain, however often the node registers again. Scheduler thread only. */
    private java.util.concurrent.ScheduledFuture<?> nextHeartbeat;

    private NodeControlConfig config;
    private BundleContext context;
    /** The home relay for transport selection, published while registered. */
    private volatile org.osgi.framework.ServiceRegistration<io.cloudbridge.api.transport.HomeRelay> homeRelay;
    private final java.util.concurrent.atomic.AtomicBoolean overlayUpdateQueued = new java.util.concurrent.atomic.AtomicBoolean();
    private Path stateFolder;
    private RelayPin pin;
    private volatile ManagedChannel channel;
    private volatile ScheduledExecutorService scheduler;
    private final Map<String, Peer> peers = new ConcurrentHashMap<>();
    private volatile RegisterResponse registration;
    private volatile String jwt;
    private volatile Instant tokenExpires;
    private volatile long mapVersion;
    private volatile String status = "starting";
    private static final String MAP_STREAM_ENDED = "map stream ended";
    private volatile int renewals;
    private volatile java.util.concurrent.ScheduledFuture<?> renewal;
    private volatile int failures;
    /** Renewals failed in a row: their retries back off. */
    private volatile int renewalFailures;

    @Activate
    void activate(BundleContext ctx, NodeControlConfig c) throws IOException {
        config = c;
        context = ctx;
        String home = ctx.getProperty(RuntimeProperties.HOME);
        String state = ctx.getProperty(RuntimeProperties.STATE);
        stateFolder = (state != null ? Path.of(state) : (home == null ? Path.of("") : Path.of(home)).resolve("state"))
                .resolve("control");
        if (c.relay().isBlank()) {
            status = "no relay configured (control.relay)";
            return;
        }
        int colon = c.relay().lastIndexOf(':');
        if (colon <= 0) {
            throw new IOException("control.relay must be host:port, not '" + c.relay() + "'");
        }
        pin = new RelayPin(c.relayFingerprint(), stateFolder.resolve("relay-pin"));
        channel = newChannel();
        scheduler = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "control-node");
            t.setDaemon(true);
            return t;
        });
        scheduler.execute(this::signIn);
    }

    private ManagedChannel newChannel() throws javax.net.ssl.SSLException {
        int colon = config.relay().lastIndexOf(':');
        return NettyChannelBuilder.forAddress(config.relay().substring(0, colon), Integer.parseInt(config.relay().substring(colon + 1)))
                .sslContext(GrpcSslContexts.forClient().trustManager(pin).protocols("TLSv1.3").build())
                .keepAliveTime(30, TimeUnit.SECONDS)
                .build();
    }

    /**
     * The node's own addresses changed (it moved to another network): its TCP connection to the
     * relay is most likely dead without a word, and keepalives would take half a minute to tell.
     * A new channel at once; the streams on the old one fail and reopen on it (signalling must be
     * back within the 2 s a handover has).
     */
    @Override
    public void stateChanged(io.cloudbridge.api.event.StateChangeEvent event) {
        ScheduledExecutorService s = scheduler;
        if ("overlay".equals(event.source()) && "key".equals(event.subject()) && s != null) {
            // The interface has a new key: register it now, not at the next heartbeat (peers could
            // not reach this node until then: they handshake with the key in their map).
            OverlayDevice device = overlay;
            if (device != null) {
                s.execute(() -> followOverlayKey(device));
            }
            return;
        }
        if (!"network".equals(event.source()) || s == null || channel == null) {
            return;
        }
        s.execute(() -> {
            ManagedChannel old = channel;
            try {
                channel = newChannel();
            } catch (javax.net.ssl.SSLException e) {
                LOG.warn("cannot make a new channel to the relay: {}", e.toString());
                return;
            }
            LOG.info("this node's addresses changed ({}): reconnecting to the relay", event.to());
            signalFailures = 0;
            old.shutdownNow();
        });
    }

    @Deactivate
    void deactivate() throws InterruptedException {
        withdrawHomeRelay();
        if (scheduler != null) {
            scheduler.shutdownNow();
        }
        if (channel != null) {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    private CallCredentials bearer() {
        return new CallCredentials() {
            @Override
            public void applyRequestMetadata(RequestInfo info, Executor executor, MetadataApplier applier) {
                Metadata m = new Metadata();
                m.put(AUTHORIZATION, "Bearer " + jwt); // the newest token at each call
                applier.apply(m);
            }
        };
    }

    private ControlServiceGrpc.ControlServiceBlockingStub blocking() {
        return ControlServiceGrpc.newBlockingStub(channel).withDeadlineAfter(15, TimeUnit.SECONDS);
    }

    // ---- sign-in and registration ----

    private void signIn() {
        OverlayDevice device = overlay;
        if (device != null) {
            nodeKey = device.publicKey(); // the key now, not the one of a retry scheduled before it changed
        }
        // Read once: the overlay can change it under this attempt, which then registers what it proves.
        io.cloudbridge.api.net.NodeKey registering = nodeKey;
        if (registering == null) {
            status = "waiting for the overlay (its key names this node)";
            scheduler.schedule(this::signIn, 200, TimeUnit.MILLISECONDS);
            return;
        }
        try {
            RegisterRequest.Builder request = RegisterRequest.newBuilder().setNode(nodeInfo(registering));
            String refresh = readRefreshToken();
            if (refresh != null) {
                try {
                    io.cloudbridge.control.v1.RefreshTokenResponse refreshed = blocking().refreshToken(
                            RefreshTokenRequest.newBuilder().setRefreshToken(refresh).build());
                    NodeToken renewed = refreshed.getToken();
                    saveToken(renewed);
                    request.setNodeToken(renewed.getJwt());
                    if (refreshed.getRelayKey().size() == io.cloudbridge.api.net.NodeKey.LENGTH) {
                        // The relay's rotation key now (it may have a new one since this node last registered).
                        relayRotationKey = io.cloudbridge.api.net.NodeKey.of(refreshed.getRelayKey().toByteArray());
                    }
                    proveRotation(request, registering);
                } catch (StatusRuntimeException e) {
                    if (e.getStatus().getCode() != Status.Code.UNAUTHENTICATED) {
                        throw e;
                    }
                    LOG.warn("the stored refresh token was refused ({}); signing in afresh", e.getStatus().getDescription());
                    forgetRefreshToken();
                }
            }
            if (request.getCredentialCase() == RegisterRequest.CredentialCase.CREDENTIAL_NOT_SET) {
                String key = config.preAuthKeyFile().isBlank() ? null : readSecret(Path.of(config.preAuthKeyFile()));
                io.cloudbridge.api.auth.TokenProvider oidc = tokens;
                if (key != null) {
                    request.setPreAuthKey(key);
                } else if (oidc != null) {
                    try {
                        request.setOidcAccessToken(oidc.currentToken().toCompletableFuture().get(30, TimeUnit.SECONDS).value());
                    } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
                        // Not signed in yet (cb:login pending): look again shortly, without counting it as a failure.
                        status = "not signed in: " + (e.getCause() != null ? e.getCause().getMessage() : "the provider is slow");
                        scheduler.schedule(this::signIn, 2, TimeUnit.SECONDS);
                        return;
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        return;
                    }
                } else {
                    status = "not signed in: no credential (set control.preAuthKeyFile, or configure oidc and run cb:login)";
                    LOG.warn(status);
                    return;
                }
            }
            RegisterResponse r = blocking().register(request.build());
            registration = r;
            registeredKey = registering;
            registeredNodeId = r.getNodeId();
            if (r.getRelayKey().size() == io.cloudbridge.api.net.NodeKey.LENGTH) {
                relayRotationKey = io.cloudbridge.api.net.NodeKey.of(r.getRelayKey().toByteArray());
            }
            saveToken(r.getToken());
            failures = 0;
            status = "registered";
            LOG.info("registered with the relay as node {} in tenant {}: {} {}", r.getNodeId(), r.getTenant(),
                    r.getIpv4Address(), r.getIpv6Address());
            publishHomeRelay();
            queueOverlayUpdate();
            // Streams opened under an earlier registration carry its token (the old key's, after a
            // rotation): both start over under this one.
            watchMap();
            io.grpc.stub.ClientCallStreamObserver<io.cloudbridge.control.v1.SignalMessage> oldSignal = signalOut;
            signalOut = null;
            if (oldSignal != null) {
                oldSignal.cancel("the node registered again", null);
            }
            openSignalling();
            scheduleHeartbeat(1);
        } catch (StatusRuntimeException e) {
            io.cloudbridge.api.auth.TokenProvider oidc = tokens;
            if (e.getStatus().getCode() == Status.Code.UNAUTHENTICATED && oidc != null) {
                // The provider's token was refused: forget it and wait for a new sign-in (cb:login).
                oidc.invalidate();
                status = "not signed in: the relay refused the sign-in: " + e.getStatus().getDescription();
                LOG.warn(status);
                scheduler.schedule(this::signIn, 2, TimeUnit.SECONDS);
                return;
            }
            if (e.getStatus().getCode() == Status.Code.PERMISSION_DENIED) {
                // Tried again at the longest backoff (a clock put right, the relay's new rotation key
                // learnt at the next refresh), and said plainly: a key changed while the node was
                // stopped cannot be proven, and needs the operator.
                failures = Math.max(failures, 10);
                retry("registration refused: " + describe(e) + ". If this node's WireGuard key changed while it was stopped,"
                        + " put the old key back, or have the node removed (relay:node delete) and sign in again", this::signIn, false);
                return;
            }
            // Over a budget of the relay (RESOURCE_EXHAUSTED), its hint is the least wait.
            retry("registration failed: " + describe(e), this::signIn, e.getStatus().getCode() == Status.Code.UNAUTHENTICATED,
                    pushbackMillis(e));
        } catch (IOException e) {
            status = "not signed in: " + e.getMessage();
            LOG.warn(status);
        }
    }

    /**
     * Registering a key other than the one last registered (the interface rotated it) with the
     * node's own token: the relay wants proof that this node holds the key the token names, which
     * the interface still has among its former keys.
     */
    private void proveRotation(RegisterRequest.Builder request, io.cloudbridge.api.net.NodeKey nodeKey) {
        io.cloudbridge.api.net.NodeKey previous = registeredKey;
        io.cloudbridge.api.net.NodeKey relayKey = relayRotationKey;
        String nodeId = registeredNodeId;
        OverlayDevice device = overlay;
        if (previous == null || previous.equals(nodeKey) || relayKey == null || nodeId == null || device == null) {
            return;
        }
        long now = Instant.now().getEpochSecond();
        device.proveKey(previous, relayKey, io.cloudbridge.api.overlay.KeyRotationProof.message(nodeId, previous, nodeKey, now))
                .ifPresentOrElse(mac -> request.setKeyRotation(io.cloudbridge.control.v1.KeyRotationProof.newBuilder()
                                .setMadeAtEpochSeconds(now).setMac(ByteString.copyFrom(mac))),
                        () -> LOG.warn("the interface no longer has key {}: the relay will refuse the new key", previous));
    }

    private NodeInfo nodeInfo(io.cloudbridge.api.net.NodeKey nodeKey) throws IOException {
        String host = config.hostname().isBlank() ? HostName.ofThisMachine() : config.hostname();
        return NodeInfo.newBuilder().setWireguardPublicKey(ByteString.copyFrom(nodeKey.toBytes()))
                .setHostname(host.replaceAll("[^A-Za-z0-9._-]", "-"))
                .setOs(System.getProperty("os.name", "").toLowerCase().replace(' ', '-') + "/" + System.getProperty("os.arch", ""))
                .build();
    }

    /** Keeps the new token; the refresh token goes to an owner-only file (the OS keyring comes with the credentials bundle). */
    private void saveToken(NodeToken token) throws IOException {
        jwt = token.getJwt();
        Instant expires = Instant.ofEpochSecond(token.getExpiresAtEpochSeconds());
        tokenExpires = expires;
        writeRefreshToken(token.getRefreshToken());
        Duration life = Duration.between(Instant.now(), expires);
        long renewIn = Math.max(1, life.toMillis() * 2 / 3);
        java.util.concurrent.ScheduledFuture<?> previous = renewal;
        if (previous != null) {
            previous.cancel(false); // one renewal chain, whatever signed in last
        }
        renewal = scheduler.schedule(this::renew, renewIn, TimeUnit.MILLISECONDS);
    }

    private void renew() {
        if (registration == null || !status.equals("registered")) {
            return;
        }
        try {
            String refresh = readRefreshToken();
            NodeToken token = blocking().refreshToken(RefreshTokenRequest.newBuilder().setRefreshToken(refresh).build()).getToken();
            renewals++;
            renewalFailures = 0;
            saveToken(token);
        } catch (StatusRuntimeException e) {
            if (e.getStatus().getCode() == Status.Code.UNAUTHENTICATED) {
                registration = null;
                status = "signed out: " + e.getStatus().getDescription();
                LOG.warn("the relay refused to renew this node's token ({}); signing in again", e.getStatus().getDescription());
                scheduler.execute(this::signIn);
            } else {
                // The token has a third of its life left: retried soon, but backing off (and no sooner
                // than the relay asks, when it refused for a budget) rather than every 2 s.
                long wait = Math.max(pushbackMillis(e), 2000L << Math.min(renewalFailures++, 4));
                scheduler.schedule(this::renew, jitter(wait), TimeUnit.MILLISECONDS);
            }
        } catch (IOException e) {
            status = "cannot keep the refresh token: " + e.getMessage();
            LOG.error(status);
        }
    }

    // ---- the map ----

    private void watchMap() {
        io.grpc.stub.ClientCallStreamObserver<WatchNetworkMapRequest> previous = mapCall;
        mapCall = null; // before the cancel: its callbacks must find themselves replaced
        if (previous != null) {
            previous.cancel("the map stream is opened again", null);
        }
        ManagedChannel on = channel;
        ControlServiceGrpc.newStub(on).withCallCredentials(bearer()).watchNetworkMap(
                WatchNetworkMapRequest.newBuilder().setKnownVersion(mapVersion).build(),
                new io.grpc.stub.ClientResponseObserver<WatchNetworkMapRequest, NetworkMapUpdate>() {
                    private io.grpc.stub.ClientCallStreamObserver<WatchNetworkMapRequest> mine;

                    @Override
                    public void beforeStart(io.grpc.stub.ClientCallStreamObserver<WatchNetworkMapRequest> requests) {
                        mine = requests;
                        mapCall = requests; // before any callback can run
                    }

                    @Override
                    public void onNext(NetworkMapUpdate u) {
                        if (mapCall != mine) {
                            return; // a replaced stream's last words
                        }
                        failures = 0; // the stream works again: the next break retries at once, not after the last backoff
                        if (registration != null && status.startsWith(MAP_STREAM_ENDED)) {
                            // Back after a break (the relay ends a node's map stream when it rotates its
                            // key): cb:whoami says registered again, not the break that is over.
                            status = "registered";
                        }
                        switch (u.getChangeCase()) {
                            case FULL -> {
                                peers.clear();
                                u.getFull().getPeersList().forEach(p -> peers.put(p.getNodeId(), p));
                            }
                            case UPSERT -> peers.put(u.getUpsert().getNodeId(), u.getUpsert());
                            case REMOVED -> peers.remove(u.getRemoved().getNodeId());
                            default -> LOG.debug("a map update of a kind this node does not know: ignored");
                        }
                        mapVersion = u.getVersion();
                        queueOverlayUpdate();
                    }

                    @Override
                    public void onError(Throwable t) {
                        if (mapCall != mine) {
                            return; // replaced on purpose: its successor is open
                        }
                        Status s = Status.fromThrowable(t);
                        if (s.getCode() == Status.Code.UNAUTHENTICATED && "node removed".equals(s.getDescription())) {
                            registration = null;
                            status = "removed by the relay";
                            withdrawHomeRelay();
                            io.cloudbridge.api.overlay.OverlayPeers o = overlayPeers;
                            if (o != null) {
                                o.clear();
                            }
                            LOG.warn("the relay removed this node; it stays signed out until it gets a new credential");
                            return;
                        }
                        if (on != channel) {
                            // Its channel was replaced on purpose (the node moved): reopen on the new one
                            // now, the map must not wait out a backoff meant for a failing relay.
                            LOG.info("map stream reopened on the new channel to the relay");
                            scheduler.execute(() -> watchMap());
                            return;
                        }
                        long pushback = pushbackMillis(t);
                        scheduler.execute(() -> retry(MAP_STREAM_ENDED + ": " + describe(s), () -> watchMap(), false, pushback));
                    }

                    @Override
                    public void onCompleted() {
                        if (mapCall == mine) {
                            scheduler.execute(() -> retry(MAP_STREAM_ENDED + " by the relay", () -> watchMap(), false));
                        }
                    }
                });
    }

    // ---- signalling: messages to and from other nodes of the tenant, through the relay ----

    private void openSignalling() {
        if (registration == null || signalOut != null) {
            return;
        }
        ManagedChannel on = channel;
        ControlServiceGrpc.newStub(on).withCallCredentials(bearer())
                .signal(new io.grpc.stub.ClientResponseObserver<io.cloudbridge.control.v1.SignalMessage, io.cloudbridge.control.v1.SignalMessage>() {
                    /** This call's own stream: an ending earlier stream must not clear a newer one. */
                    private io.grpc.stub.ClientCallStreamObserver<io.cloudbridge.control.v1.SignalMessage> mine;

                    @Override
                    public void beforeStart(io.grpc.stub.ClientCallStreamObserver<io.cloudbridge.control.v1.SignalMessage> requests) {
                        mine = requests;
                        signalOut = requests; // before any onError can run
                    }

                    @Override
                    public void onNext(io.cloudbridge.control.v1.SignalMessage m) {
                        signalFailures = 0;
                        Peer from = peers.get(m.getFromNodeId());
                        if (from == null || from.getWireguardPublicKey().size() != 32) {
                            LOG.debug("a signal from {}, which is not in this node's map: dropped", m.getFromNodeId());
                            return;
                        }
                        io.cloudbridge.api.net.NodeKey key = io.cloudbridge.api.net.NodeKey.of(from.getWireguardPublicKey().toByteArray());
                        byte[] payload = m.getPayload().toByteArray();
                        for (io.cloudbridge.api.mesh.SignalListener l : signalListeners) {
                            try {
                                l.onSignal(key, m.getPayloadType(), m.getPayloadVersion(), payload);
                            } catch (RuntimeException e) {
                                LOG.warn("a signal listener failed on {}: {}", m.getPayloadType(), e.toString());
                            }
                        }
                    }

                    @Override
                    public void onError(Throwable t) {
                        ended("signalling stream ended: " + describe(Status.fromThrowable(t)));
                    }

                    @Override
                    public void onCompleted() {
                        ended("signalling stream ended by the relay");
                    }

                    private void ended(String why) {
                        if (signalOut == mine) {
                            signalEnded(why, on != channel);
                        }
                    }
                });
        // What listeners sent while it was down, or into the stream that broke, is lost: they send again.
        for (io.cloudbridge.api.mesh.SignalListener l : signalListeners) {
            try {
                l.signallingConnected();
            } catch (RuntimeException e) {
                LOG.warn("a signal listener failed on reconnection: {}", e.toString());
            }
        }
    }

    /** @param channelReplaced the stream's channel was replaced on purpose: reopen on the new one at once */
    private void signalEnded(String why, boolean channelReplaced) {
        signalOut = null;
        ScheduledExecutorService s = scheduler;
        if (s == null || s.isShutdown()) {
            return;
        }
        // Its own backoff: a stream the relay replaced or dropped must not slow registration's retries.
        long wait = channelReplaced ? 0 : Math.min(30_000, 250L << Math.min(signalFailures++, 7));
        LOG.info("{}; reopening in {} ms", why, wait);
        s.schedule(this::openSignalling, wait, TimeUnit.MILLISECONDS);
    }

    @Override
    public boolean send(io.cloudbridge.api.net.NodeKey to, String type, int version, byte[] payload) {
        io.grpc.stub.ClientCallStreamObserver<io.cloudbridge.control.v1.SignalMessage> out = signalOut;
        if (out == null || payload.length > MAX_PAYLOAD || type.length() > 64) {
            return false;
        }
        String nodeId = null;
        for (Peer p : peers.values()) {
            if (java.util.Arrays.equals(p.getWireguardPublicKey().toByteArray(), to.toBytes())) {
                nodeId = p.getNodeId();
                break;
            }
        }
        if (nodeId == null) {
            return false;
        }
        io.cloudbridge.control.v1.SignalMessage m = io.cloudbridge.control.v1.SignalMessage.newBuilder().setToNodeId(nodeId)
                .setPayloadType(type).setPayloadVersion(version).setPayload(ByteString.copyFrom(payload)).build();
        synchronized (out) {
            try {
                out.onNext(m);
                return true;
            } catch (RuntimeException e) {
                // The stream broke under this send (its onError may have come before it was kept).
                if (signalOut == out) {
                    signalEnded("signalling stream failed on send: " + e, false);
                }
                return false;
            }
        }
    }

    // ---- the peer directory ----

    @Override
    public java.util.Collection<io.cloudbridge.api.mesh.Peer> peers() {
        RegisterResponse r = registration;
        List<io.cloudbridge.api.mesh.Peer> out = new java.util.ArrayList<>();
        for (Peer p : peers.values()) {
            if ((r == null || !p.getNodeId().equals(r.getNodeId())) && p.getWireguardPublicKey().size() == 32) {
                out.add(toMeshPeer(p));
            }
        }
        return out;
    }

    @Override
    public java.util.Optional<io.cloudbridge.api.mesh.Peer> peer(io.cloudbridge.api.net.NodeKey key) {
        return peers().stream().filter(p -> p.key().equals(key)).findFirst();
    }

    private static io.cloudbridge.api.mesh.Peer toMeshPeer(Peer p) {
        List<io.cloudbridge.api.net.IpPrefix> allowed = new java.util.ArrayList<>();
        for (String a : p.getOverlayAddressesList()) {
            try {
                io.cloudbridge.api.overlay.OverlayAddress addr = io.cloudbridge.api.overlay.OverlayAddress.parse(a);
                allowed.add(new io.cloudbridge.api.net.IpPrefix(addr.address(), addr.address().getAddress().length * 8));
            } catch (IllegalArgumentException e) {
                LOG.debug("peer {} has an address this node cannot read: {}", p.getNodeId(), a);
            }
        }
        return new io.cloudbridge.api.mesh.Peer(io.cloudbridge.api.net.NodeKey.of(p.getWireguardPublicKey().toByteArray()),
                p.getHostname(), allowed, List.of());
    }

    // ---- what the rest of the node learns from the control plane ----

    /** The relay's transports, as configured or at port 8443 of the control relay's host. */
    private List<io.cloudbridge.api.transport.RelayEndpoint> transportEndpoints() throws IOException {
        String host = config.relay().substring(0, config.relay().lastIndexOf(':'));
        List<String> uris = config.transports().length > 0 ? List.of(config.transports())
                : List.of("quic://" + host + ":8443", "wss://" + host + ":8443");
        java.util.Optional<String> fingerprint = java.util.Optional.ofNullable(pin.expected());
        List<io.cloudbridge.api.transport.RelayEndpoint> out = new java.util.ArrayList<>();
        for (String u : uris) {
            out.add(new io.cloudbridge.api.transport.RelayEndpoint(config.relay(), java.net.URI.create(u.trim()), fingerprint));
        }
        return out;
    }

    /** Tells the node's transports where its relay is and how to prove who it is (its newest token at each connect). */
    private void publishHomeRelay() throws IOException {
        if (homeRelay != null && nodeKey.equals(publishedKey)) {
            return;
        }
        withdrawHomeRelay(); // one under an earlier key: its sessions' credentials name that key
        publishedKey = nodeKey;
        List<io.cloudbridge.api.transport.RelayEndpoint> endpoints = transportEndpoints();
        io.cloudbridge.api.transport.SessionCredentials credentials = new io.cloudbridge.api.transport.SessionCredentials(
                nodeKey, () -> jwt);
        homeRelay = context.registerService(io.cloudbridge.api.transport.HomeRelay.class, new io.cloudbridge.api.transport.HomeRelay() {
            @Override
            public List<io.cloudbridge.api.transport.RelayEndpoint> endpoints() {
                return endpoints;
            }

            @Override
            public io.cloudbridge.api.transport.SessionCredentials credentials() {
                return credentials;
            }
        }, null);
    }

    private void withdrawHomeRelay() {
        org.osgi.framework.ServiceRegistration<?> r = homeRelay;
        homeRelay = null;
        if (r != null) {
            try {
                r.unregister();
            } catch (IllegalStateException alreadyGone) {
                // the bundle is stopping
            }
        }
    }

    /** Brings the overlay in line with the registration and the map, once for a burst of map changes. */
    private void queueOverlayUpdate() {
        if (overlayUpdateQueued.compareAndSet(false, true)) {
            scheduler.schedule(() -> {
                overlayUpdateQueued.set(false);
                applyOverlay();
            }, 50, TimeUnit.MILLISECONDS);
        }
    }

    private void applyOverlay() {
        io.cloudbridge.api.overlay.OverlayPeers o = overlayPeers;
        RegisterResponse r = registration;
        if (o == null || r == null) {
            return;
        }
        String self = r.getNodeId();
        List<io.cloudbridge.api.overlay.OverlayPeer> wanted = new java.util.ArrayList<>();
        for (Peer p : peers.values()) {
            if (p.getNodeId().equals(self) || p.getWireguardPublicKey().size() != 32) {
                continue;
            }
            io.cloudbridge.api.mesh.Peer peer = toMeshPeer(p);
            wanted.add(new io.cloudbridge.api.overlay.OverlayPeer(peer.key(), peer.allowedIps(), java.util.Optional.empty()));
        }
        try {
            o.apply(List.of(io.cloudbridge.api.overlay.OverlayAddress.parse(r.getIpv4Address()),
                    io.cloudbridge.api.overlay.OverlayAddress.parse(r.getIpv6Address())), wanted);
        } catch (RuntimeException e) {
            LOG.warn("the overlay did not take the network map: {}", e.toString());
        }
    }

    private void heartbeat() {
        if (registration == null) {
            return;
        }
        OverlayDevice device = overlay;
        if (device != null && nodeKey != null && !nodeKey.equals(device.publicKey())) {
            followOverlayKey(device); // registers again; its own heartbeats follow
            return;
        }
        try {
            HeartbeatResponse r = blocking().withCallCredentials(bearer()).heartbeat(
                    HeartbeatRequest.newBuilder().setStatus(NodeStatus.newBuilder().putCounters("peers", peers.size())).build());
            scheduleHeartbeat(Math.max(1, r.getNextHeartbeatSeconds()));
        } catch (StatusRuntimeException e) {
            scheduleHeartbeat(5);
        }
    }

    /** The next heartbeat, replacing any already due: a registration starts the chain afresh. */
    private void scheduleHeartbeat(long seconds) {
        java.util.concurrent.ScheduledFuture<?> previous = nextHeartbeat;
        if (previous != null) {
            previous.cancel(false);
        }
        nextHeartbeat = scheduler.schedule(this::heartbeat, seconds, TimeUnit.SECONDS);
    }

    /** Tries again after a jittered wait that doubles with each failure, up to control.maxBackoffSeconds. */
    private void retry(String why, Runnable again, boolean credentialProblem) {
        retry(why, again, credentialProblem, 0);
    }

    /** @param atLeastMillis the relay's retry hint (0: none): waited out even beyond the backoff's cap, with jitter */
    private void retry(String why, Runnable again, boolean credentialProblem, long atLeastMillis) {
        failures++;
        long cap = Duration.ofSeconds(config.maxBackoffSeconds()).toMillis();
        long wait = Math.min(cap, 500L << Math.min(failures, 10));
        wait = wait / 2 + ThreadLocalRandom.current().nextLong(wait / 2 + 1);
        if (atLeastMillis > 0) {
            wait = Math.max(wait, jitter(atLeastMillis));
        }
        status = why + (credentialProblem ? "" : "; retrying");
        LOG.warn("{}; next attempt in {} ms", why, wait);
        if (!credentialProblem) {
            scheduler.schedule(again, wait, TimeUnit.MILLISECONDS);
        }
    }

    /** The relay's retry hint: gRPC's retry pushback (gRFC A6), ms. */
    static final Metadata.Key<String> RETRY_PUSHBACK = Metadata.Key.of("grpc-retry-pushback-ms", Metadata.ASCII_STRING_MARSHALLER);
    /** A hint longer than this is taken as this: a wrong value must not park the node for hours. */
    static final long MAX_PUSHBACK_MILLIS = 300_000;

    /** How long the relay asked this node to wait before the call again (over one of its budgets), in ms; 0 without a hint. */
    static long pushbackMillis(Throwable t) {
        Metadata trailers = Status.trailersFromThrowable(t);
        String hint = trailers == null ? null : trailers.get(RETRY_PUSHBACK);
        if (hint == null) {
            return 0;
        }
        try {
            return Math.max(0, Math.min(MAX_PUSHBACK_MILLIS, Long.parseLong(hint.trim())));
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    /** {@code millis} and up to a quarter more: nodes told the same wait do not all come back in the same instant. */
    private static long jitter(long millis) {
        return millis + ThreadLocalRandom.current().nextLong(millis / 4 + 1);
    }

    private static String describe(StatusRuntimeException e) {
        return describe(e.getStatus());
    }

    private static String describe(Status s) {
        return s.getCode() + (s.getDescription() == null ? "" : " (" + s.getDescription() + ")")
                + (s.getCause() == null ? "" : ": " + s.getCause().getMessage());
    }

    private static String readSecret(Path file) throws IOException {
        if (!Files.exists(file)) {
            return null;
        }
        String s = Files.readString(file, StandardCharsets.UTF_8).trim();
        return s.isEmpty() ? null : s;
    }

    // ---- for the commands ----

    String whoami() throws IOException {
        RegisterResponse r = registration;
        StringBuilder out = new StringBuilder();
        out.append("status:   ").append(status).append('\n');
        if (r != null) {
            out.append("node:     ").append(r.getNodeId()).append('\n');
            out.append("tenant:   ").append(r.getTenant()).append('\n');
            out.append("address:  ").append(r.getIpv4Address()).append(' ').append(r.getIpv6Address()).append('\n');
            out.append("token:    expires ").append(tokenExpires).append(" (renewed automatically; ").append(renewals)
                    .append(" renewals)\n");
            out.append("map:      version ").append(mapVersion).append(", ").append(peers.size()).append(" peers\n");
        }
        if (config != null && !config.relay().isBlank()) {
            out.append("relay:    ").append(config.relay()).append(" (pinned ").append(pin.expected().isEmpty() ? "on first use" : pin.expected())
                    .append(")\n");
        }
        io.cloudbridge.api.net.NodeKey key = nodeKey;
        out.append("key:      ").append(key == null ? "(no overlay yet)" : key.toBase64()).append('\n');
        io.cloudbridge.api.auth.CredentialStore store = credentials;
        out.append("secrets:  ").append(store != null ? store.backend() : "file (" + stateFolder + ")").append('\n');
        return out.toString();
    }

    /** Whether a map entry is this node itself. */
    boolean isSelf(Peer p) {
        RegisterResponse r = registration;
        return r != null && r.getNodeId().equals(p.getNodeId());
    }

    List<Peer> mapPeers() {
        return List.copyOf(peers.values());
    }
}
