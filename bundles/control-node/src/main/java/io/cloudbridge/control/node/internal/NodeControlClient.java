package io.cloudbridge.control.node.internal;

import io.cloudbridge.api.auth.CredentialStore;
import io.cloudbridge.api.auth.TokenProvider;
import io.cloudbridge.api.event.StateChangeEvent;
import io.cloudbridge.api.event.StateChangeListener;
import io.cloudbridge.api.mesh.PeerDirectory;
import io.cloudbridge.api.mesh.SignalListener;
import io.cloudbridge.api.mesh.Signalling;
import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.api.overlay.OverlayDevice;
import io.cloudbridge.api.overlay.OverlayPeers;
import io.cloudbridge.api.runtime.RuntimeEnvironment;
import io.cloudbridge.control.v1.Peer;
import io.cloudbridge.control.v1.RegisterResponse;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLException;
import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;
import org.osgi.service.metatype.annotations.Designate;
import org.slf4j.Logger;

/**
 * This node's session with its relay: sign-in (the stored refresh token, else a pre-auth key),
 * registration under the overlay's WireGuard key, the tenant's network map kept current from the
 * relay's deltas, the node token renewed when two thirds of its life are gone, and heartbeats. A
 * lost connection is retried with jittered, growing waits; a node the relay removed stops.
 *
 * <p>This component is the wiring: its references, its life cycle, the channel to the relay, and
 * the services it offers. The work is done by one class per protocol role, sharing
 * {@link ControlSession}: {@link NodeRegistration} (sign-in), {@link TokenRenewal},
 * {@link MapStream} into {@link NetworkMap}, {@link SignallingStream}, {@link Heartbeats},
 * {@link HomeRelayPublication} and {@link OverlaySync}.
 */
@Component(service = {NodeControlClient.class, Signalling.class, PeerDirectory.class, StateChangeListener.class},
        configurationPid = "cloudbridge.control", immediate = true)
@Designate(ocd = NodeControlConfig.class)
public final class NodeControlClient implements Signalling, PeerDirectory, StateChangeListener {
    /** Where the node's state is kept, and how its secrets are written. */
    @Reference
    private RuntimeEnvironment environment;

    private static final Logger LOG = ControlSession.LOG;

    /**
     * The OS keyring (or its owner-only file fallback), when the credentials bundle runs: the
     * refresh token goes there; without it, to an owner-only file of this bundle's own.
     */
    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY)
    private volatile CredentialStore credentials;

    // The roles exist from construction, not from activation: the framework binds references (and
    // so reaches them) before activate runs.
    private final ControlSession session = new ControlSession();
    private final NetworkMap map = new NetworkMap();
    private final RefreshTokenStore refreshTokens = new RefreshTokenStore(session, () -> credentials);
    private final TokenRenewal renewal = new TokenRenewal(session, refreshTokens, this::signIn);
    private final HomeRelayPublication homeRelay = new HomeRelayPublication(session);
    private final OverlaySync overlaySync = new OverlaySync(session, map);
    private final MapStream mapStream = new MapStream(session, map, overlaySync, homeRelay);
    private final SignallingStream signalling = new SignallingStream(session, map);
    private final Heartbeats heartbeats = new Heartbeats(session, map, this::followOverlayKey);
    private final NodeRegistration registration = new NodeRegistration(session, refreshTokens, renewal, homeRelay, overlaySync,
            mapStream, signalling, heartbeats);

    /**
     * The overlay, for this node's key. Dynamic: replacing the WireGuard bundle (bundle update)
     * must not sign the node out and in again; the key stays the same (its file or keyring entry),
     * and the new interface gets the node's addresses and peers at once (see bindOverlayPeers).
     */
    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY)
    void bindOverlay(OverlayDevice device) {
        session.overlay = device;
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
        NodeKey key = device.publicKey();
        NodeKey before = session.nodeKey;
        session.nodeKey = key;
        ScheduledExecutorService s = session.scheduler;
        if (before != null && !before.equals(key) && s != null) {
            LOG.warn("the overlay's key changed ({} -> {}): registering again with the new key", before, key);
            session.status = "registering its new key";
            s.execute(() -> {
                homeRelay.withdraw();
                session.registration = null;
                signIn();
            });
        }
    }

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY)
    void bindTokens(TokenProvider provider) {
        session.tokens = provider;
        ScheduledExecutorService s = session.scheduler;
        // A sign-in that found no credential tries again with the one that just arrived.
        if (s != null && session.registration == null && session.status.startsWith("not signed in")) {
            s.execute(this::signIn);
        }
    }

    void unbindTokens(TokenProvider provider) {
        if (session.tokens == provider) {
            session.tokens = null;
        }
    }

    /** A new overlay (the WireGuard bundle replaced) gets the node's addresses and peers at once. */
    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY)
    void bindOverlayPeers(OverlayPeers peers) {
        session.overlayPeers = peers;
        if (session.scheduler != null) {
            try {
                overlaySync.queue();
            } catch (RejectedExecutionException stopping) {
                // this component is being deactivated
            }
        }
    }

    void unbindOverlayPeers(OverlayPeers peers) {
        if (session.overlayPeers == peers) {
            session.overlayPeers = null;
        }
    }

    /** A new packet filter (its bundle replaced) gets the filter the map holds at once; until then it keeps its own, persisted. */
    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY)
    void bindNodeFilters(io.cloudbridge.api.policy.NodeFilters filters) {
        session.nodeFilters = filters;
        filters.expectFromControlPlane();
        mapStream.installFilter();
    }

    void unbindNodeFilters(io.cloudbridge.api.policy.NodeFilters filters) {
        if (session.nodeFilters == filters) {
            session.nodeFilters = null;
        }
    }

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY)
    void bindMeterRegistry(MeterRegistry registry) {
        session.authMeters.bind(registry);
    }

    void unbindMeterRegistry(MeterRegistry registry) {
        session.authMeters.unbind(registry);
    }

    @Override
    public void addListener(SignalListener l) {
        signalling.addListener(l);
    }

    @Override
    public void removeListener(SignalListener l) {
        signalling.removeListener(l);
    }

    @Activate
    void activate(BundleContext ctx, NodeControlConfig c) throws IOException {
        session.config = c;
        session.context = ctx;
        session.environment = environment;
        // Not created here: a node with no relay configured writes nothing (the writer makes the folder when it first writes).
        session.stateFolder = environment.stateFolder().resolve("control");
        if (c.relay().isBlank()) {
            session.status = "no relay configured (control.relay)";
            return;
        }
        int colon = c.relay().lastIndexOf(':');
        int port;
        try {
            port = colon <= 0 ? -1 : Integer.parseInt(c.relay().substring(colon + 1));
        } catch (NumberFormatException e) {
            port = -1;
        }
        if (port < 1 || port > 65_535) {
            throw new IOException("control.relay must be host:port, not '" + c.relay() + "'");
        }
        session.pin = new RelayPin(c.relayFingerprint(), session.stateFolder.resolve("relay-pin"), environment);
        session.scheduler = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "control-node");
            t.setDaemon(true);
            return t;
        });
        // The channel is made on the control plane's own thread: its TLS context loads the JDK's TLS
        // provider, a fifth of a second at a node's start that the bundles starting after this one
        // need not wait for (a node up fast, issue 20).
        session.scheduler.execute(this::connect);
    }

    /** Makes the channel to the relay, then signs in; tried again every 5 s while it cannot be made. */
    private void connect() {
        ManagedChannel made;
        try {
            made = newChannel();
        } catch (SSLException | RuntimeException e) {
            session.status = "no channel to the relay: " + e.getMessage();
            LOG.error("cannot make a channel to the relay {}: {}; trying again in 5 s", session.config.relay(), e.toString());
            try {
                session.scheduler.schedule(this::connect, 5, TimeUnit.SECONDS);
            } catch (java.util.concurrent.RejectedExecutionException stopping) {
                // deactivated meanwhile
            }
            return;
        }
        session.channel = made;
        if (session.scheduler.isShutdown()) {
            made.shutdownNow(); // deactivated while it was made: deactivate may have looked before it was set
            return;
        }
        signIn();
    }

    /** The largest map update the node takes from its relay (which it pinned). */
    static final int MAX_MAP_BYTES = 32 << 20;

    private ManagedChannel newChannel() throws SSLException {
        NodeControlConfig config = session.config;
        int colon = config.relay().lastIndexOf(':');
        return NettyChannelBuilder.forAddress(config.relay().substring(0, colon), Integer.parseInt(config.relay().substring(colon + 1)))
                .sslContext(GrpcSslContexts.forClient().trustManager(session.pin).protocols("TLSv1.3").build())
                .keepAliveTime(30, TimeUnit.SECONDS)
                // A full map with the node's filter: 10,000 peers are 1.5 MB, and a filter whose
                // rules name large groups as sources adds their addresses (gRPC's default is 4 MiB).
                .maxInboundMessageSize(MAX_MAP_BYTES)
                .intercept(new CorrelationHeader())
                .build();
    }

    /**
     * The node's own addresses changed (it moved to another network): its TCP connection to the
     * relay is most likely dead without a word, and keepalives would take half a minute to tell.
     * A new channel at once; the streams on the old one fail and reopen on it (signalling must be
     * back within the 2 s a handover has).
     */
    @Override
    public void stateChanged(StateChangeEvent event) {
        ScheduledExecutorService s = session.scheduler;
        if ("overlay".equals(event.source()) && "key".equals(event.subject()) && s != null) {
            // The interface has a new key: register it now, not at the next heartbeat (peers could
            // not reach this node until then: they handshake with the key in their map).
            OverlayDevice device = session.overlay;
            if (device != null) {
                s.execute(() -> followOverlayKey(device));
            }
            return;
        }
        if (!"network".equals(event.source()) || s == null || session.channel == null) {
            return;
        }
        s.execute(() -> {
            ManagedChannel old = session.channel;
            try {
                session.channel = newChannel();
            } catch (SSLException e) {
                LOG.warn("cannot make a new channel to the relay: {}", e.toString());
                return;
            }
            LOG.info("this node's addresses changed ({}): reconnecting to the relay", event.to());
            signalling.forgetFailures();
            old.shutdownNow();
        });
    }

    @Deactivate
    void deactivate() throws InterruptedException {
        homeRelay.withdraw();
        if (session.scheduler != null) {
            session.scheduler.shutdownNow();
            // (It may be making the channel: wait, so that the channel it makes is closed below.)
            session.scheduler.awaitTermination(5, TimeUnit.SECONDS);
        }
        if (session.channel != null) {
            session.channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    private void signIn() {
        registration.signIn();
    }

    // ---- the services ----

    @Override
    public boolean send(NodeKey to, String type, int version, byte[] payload) {
        return signalling.send(to, type, version, payload);
    }

    @Override
    public Collection<io.cloudbridge.api.mesh.Peer> peers() {
        return map.meshPeers(session.registration);
    }

    @Override
    public Optional<io.cloudbridge.api.mesh.Peer> peer(NodeKey key) {
        return peers().stream().filter(p -> p.key().equals(key)).findFirst();
    }

    // The relay's retry hint is read by Backoff; RetryPushbackTest reads it through the component, as before.
    static final Metadata.Key<String> RETRY_PUSHBACK = Backoff.RETRY_PUSHBACK;
    static final long MAX_PUSHBACK_MILLIS = Backoff.MAX_PUSHBACK_MILLIS;

    static long pushbackMillis(Throwable t) {
        return Backoff.pushbackMillis(t);
    }

    // ---- for the commands ----

    String whoami() throws IOException {
        RegisterResponse r = session.registration;
        StringBuilder out = new StringBuilder();
        out.append("status:   ").append(session.status).append('\n');
        if (r != null) {
            out.append("node:     ").append(r.getNodeId()).append('\n');
            out.append("tenant:   ").append(r.getTenant()).append('\n');
            out.append("address:  ").append(r.getIpv4Address()).append(' ').append(r.getIpv6Address()).append('\n');
            out.append("token:    expires ").append(renewal.tokenExpires()).append(" (renewed automatically; ").append(renewal.renewals())
                    .append(" renewals)\n");
            out.append("map:      version ").append(map.version()).append(", ").append(map.size()).append(" peers\n");
        }
        NodeControlConfig config = session.config;
        if (config != null && !config.relay().isBlank()) {
            out.append("relay:    ").append(config.relay()).append(" (pinned ")
                    .append(session.pin.expected().isEmpty() ? "on first use" : session.pin.expected()).append(")\n");
        }
        NodeKey key = session.nodeKey;
        out.append("key:      ").append(key == null ? "(no overlay yet)" : key.toBase64()).append('\n');
        CredentialStore store = credentials;
        out.append("secrets:  ").append(store != null ? store.backend() : "file (" + session.stateFolder + ")").append('\n');
        return out.toString();
    }

    /** Whether a map entry is this node itself. */
    boolean isSelf(Peer p) {
        RegisterResponse r = session.registration;
        return r != null && r.getNodeId().equals(p.getNodeId());
    }

    List<Peer> mapPeers() {
        return List.copyOf(map.entries());
    }
}
