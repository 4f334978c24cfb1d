package io.cloudbridge.control.relay.internal;

import io.cloudbridge.api.ipam.AddressAllocator;
import io.cloudbridge.api.runtime.RuntimeEnvironment;
import io.grpc.Server;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyServerBuilder;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.cloudbridge.api.net.HostName;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.metatype.annotations.Designate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The relay's control plane: the gRPC {@link ControlService} over TLS 1.3 with the relay's own
 * certificate, its state in the relay database, addresses from IPAM. A change of the {@code relay}
 * section restarts the listener; registered nodes, keys and tokens live in the database and stay.
 */
@Component(service = RelayControlServer.class, configurationPid = "cloudbridge.relay", immediate = true)
@Designate(ocd = RelayConfig.class)
public final class RelayControlServer {
    private static final Logger LOG = LoggerFactory.getLogger(RelayControlServer.class);
    /** The largest control message: far above any real one, far below what would hurt. */
    static final int MAX_MESSAGE_BYTES = 64 * 1024;
    /** Headers, the bearer token among them. */
    static final int MAX_METADATA_BYTES = 16 * 1024;

    @Reference(target = "(cloudbridge.database=relay)")
    private DataSource database;

    @Reference
    private RuntimeEnvironment environment;
    @Reference
    private AddressAllocator ipam;
    /**
     * The access-policy language. Static: a tenant's maps are made with its policy, and a relay
     * whose compiler went away must not serve maps without it (an update of the policy bundle
     * restarts the control plane; nodes reconnect, traffic keeps flowing).
     */
    @Reference
    private io.cloudbridge.api.policy.PolicyCompiler policyCompiler;
    /** What makes an answer's writes survive a crash before the answer goes out. */
    @Reference(target = "(cloudbridge.database=relay)")
    private io.cloudbridge.store.Durability durability;
    /**
     * The relay's time: the database server's, where relays may share one (tokens, pre-auth keys and
     * nodes expire by one clock), this machine's with its own embedded file.
     */
    @Reference(target = "(cloudbridge.database=relay)")
    private Clock databaseClock;
    /** Seals the token-signing keys with the fleet key before they reach the database. */
    @Reference(target = "(cloudbridge.database=relay)")
    private io.cloudbridge.store.SecretSealer secrets;
    /** OIDC sign-in, when the identity section configures a provider. */
    private volatile io.cloudbridge.api.auth.IdentityVerifier identity;

    /** The relay's data plane, when its bundle runs: removing a node closes its transport sessions too. */
    @Reference(cardinality = org.osgi.service.component.annotations.ReferenceCardinality.OPTIONAL,
            policy = org.osgi.service.component.annotations.ReferencePolicy.DYNAMIC,
            policyOption = org.osgi.service.component.annotations.ReferencePolicyOption.GREEDY)
    private volatile io.cloudbridge.api.relay.PacketSwitch packetSwitch;

    private RelayState state;
    private ControlService service;
    private final ControlMeters meters = new ControlMeters();
    /**
     * The TLS identity and the session authenticator, for the data plane's listeners. Registered by
     * hand: they are objects this component makes when it starts (its certificate, its control
     * service's parts), and DS registers only a component's own instance.
     */
    private final java.util.List<org.osgi.framework.ServiceRegistration<?>> published = new java.util.ArrayList<>();
    private RelayCertificate certificate;
    private Server server;
    private JwksEndpoint jwks;
    private java.util.concurrent.ScheduledExecutorService expiry;
    /** The threads control calls run on (gRPC's default pool would grow a thread per blocked call). */
    private java.util.concurrent.ThreadPoolExecutor calls;

    @Activate
    void activate(BundleContext ctx, RelayConfig config) throws IOException, SQLException {
        start(environment, config, databaseClock);
        published.add(ctx.registerService(io.cloudbridge.api.relay.RelayIdentity.class, certificate, null));
        published.add(ctx.registerService(io.cloudbridge.api.relay.NodeSessionAuthenticator.class, service.sessionAuthenticator(), null));
        published.add(ctx.registerService(io.cloudbridge.api.relay.CredentialRevocations.class, service.credentials(), null));
        published.add(ctx.registerService(io.cloudbridge.api.relay.OverlayMembers.class, new RelayMembers(service.maps(), state, durability,
                config.issuer()),
                null));
    }

    @Reference(cardinality = org.osgi.service.component.annotations.ReferenceCardinality.OPTIONAL,
            policy = org.osgi.service.component.annotations.ReferencePolicy.DYNAMIC,
            policyOption = org.osgi.service.component.annotations.ReferencePolicyOption.GREEDY)
    void bindIdentity(io.cloudbridge.api.auth.IdentityVerifier verifier) {
        identity = verifier;
    }

    /**
     * The provider's verifier went, or gives way to another (its section changed): the sessions its
     * tokens opened end, as the relay no longer vouches for how they were admitted.
     */
    void unbindIdentity(io.cloudbridge.api.auth.IdentityVerifier verifier) {
        if (identity == verifier) {
            identity = null;
        }
        ControlService s = service;
        if (s != null) {
            s.credentials().revokeUsers("the relay's identity provider configuration changed");
        }
    }

    @Reference(cardinality = org.osgi.service.component.annotations.ReferenceCardinality.OPTIONAL,
            policy = org.osgi.service.component.annotations.ReferencePolicy.DYNAMIC,
            policyOption = org.osgi.service.component.annotations.ReferencePolicyOption.GREEDY)
    void bindMeterRegistry(io.micrometer.core.instrument.MeterRegistry registry) {
        meters.bind(registry);
    }

    void unbindMeterRegistry(io.micrometer.core.instrument.MeterRegistry registry) {
        meters.unbind(registry);
    }

    /**
     * @param environment where the relay's state is kept and configured paths start
     * @param clock the relay's time: tokens, expiry and rate limits (the database's; tests move it instead of waiting)
     */
    void start(RuntimeEnvironment environment, RelayConfig config, Clock clock) throws IOException, SQLException {
        Path relayState = environment.stateFolder("relay");
        state = new RelayState(database, secrets);
        NodeTokens tokens = new NodeTokens(state, config.issuer(), Duration.ofSeconds(config.tokenLifetimeSeconds()),
                Duration.ofSeconds(config.signingKeyRotationSeconds()));
        tokens.rotateIfDue(clock.instant());
        certificate = config.certificateFile().isBlank()
                ? RelayCertificate.loadOrCreate(relayState.resolve("tls"), HostName.ofThisMachine(), environment)
                : RelayCertificate.load(environment.configuredPath(config.certificateFile()),
                        environment.configuredPath(config.privateKeyFile()));
        calls = controlPool(config.controlThreads());
        service = new ControlService(state, tokens, ipam, clock, config, config.issuer(), () -> identity, durability,
                () -> packetSwitch, KeyRotationVerifier.loadOrCreate(relayState.resolve("rotation.key"), environment), calls,
                policyCompiler);
        SslContext tls = GrpcSslContexts.configure(SslContextBuilder.forServer(certificate.privateKey(), certificate.certificate()),
                SslProvider.JDK).protocols("TLSv1.3").build();
        server = NettyServerBuilder.forAddress(new InetSocketAddress(InetAddress.getByName(config.listenAddress()), config.controlPort()))
                .sslContext(tls)
                .maxInboundMessageSize(MAX_MESSAGE_BYTES)
                .maxInboundMetadataSize(MAX_METADATA_BYTES)
                .permitKeepAliveTime(10, TimeUnit.SECONDS)
                .permitKeepAliveWithoutCalls(true)
                // A node needs a handful of calls at once (map, signalling, heartbeat, renewal).
                .maxConcurrentCallsPerConnection(16)
                .executor(calls)
                .intercept(service.authenticator())
                // (Added last, so it runs first: the authenticator's refusals carry the call's id.)
                .intercept(new CallCorrelation())
                .addStreamTracerFactory(service.refusalWatcher())
                .addService(service)
                .build()
                .start();
        if (config.nodeExpirySeconds() > 0) {
            Duration silence = Duration.ofSeconds(config.nodeExpirySeconds());
            long every = Math.max(1, Math.min(60, config.nodeExpirySeconds() / 4));
            expiry = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "relay-node-expiry");
                t.setDaemon(true);
                return t;
            });
            expiry.scheduleWithFixedDelay(() -> expire(clock, silence), every, every, TimeUnit.SECONDS);
        }
        jwks = new JwksEndpoint(new InetSocketAddress(InetAddress.getByName(config.listenAddress()), config.jwksPort()), certificate,
                tokens::jwks);
        LOG.info("relay control service listening on {}:{} (TLS 1.3); certificate fingerprint {} (nodes pin it);"
                + " token keys at https://{}:{}{}", config.listenAddress(), server.getPort(), certificate.fingerprint(),
                config.listenAddress(), jwks.port(), JwksEndpoint.PATH);
        meters.serving(service);
    }

    /**
     * A fixed number of threads. Its queue is not bounded, because gRPC has no answer for a task its
     * executor rejects (the call would hang or the connection break); what bounds the work queued
     * is that every task is short (a registration waits for its write without a thread), calls per
     * connection are capped, and registrations, renewals and map opens are budgeted per caller.
     */
    private static java.util.concurrent.ThreadPoolExecutor controlPool(int threads) {
        java.util.concurrent.atomic.AtomicInteger n = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.ThreadPoolExecutor pool = new java.util.concurrent.ThreadPoolExecutor(threads, threads, 60, TimeUnit.SECONDS,
                new java.util.concurrent.LinkedBlockingQueue<>(), r -> {
                    Thread t = new Thread(r, "relay-control-" + n.incrementAndGet());
                    t.setDaemon(true);
                    return t;
                });
        pool.allowCoreThreadTimeOut(true);
        return pool;
    }

    /** Removes the nodes silent for longer than the expiry, as relay:node delete would. */
    private void expire(Clock clock, Duration silence) {
        try {
            for (String id : state.nodesSilentSince(clock.instant().minus(silence))) {
                service.deleteNode(id).ifPresent(n -> LOG.info("node {} ({}) expired after {} s of silence", id, n.hostname(),
                        silence.toSeconds()));
            }
        } catch (SQLException | RuntimeException e) {
            LOG.warn("expiring silent nodes failed: {}", e.toString());
        }
    }

    @Deactivate
    void deactivate() throws InterruptedException {
        meters.serving(null);
        published.forEach(org.osgi.framework.ServiceRegistration::unregister);
        published.clear();
        if (expiry != null) {
            expiry.shutdownNow();
        }
        if (jwks != null) {
            jwks.close();
        }
        if (server != null) {
            server.shutdownNow();
            server.awaitTermination(5, TimeUnit.SECONDS);
        }
        if (service != null) {
            service.close();
        }
        if (calls != null) {
            calls.shutdown(); // after the writer: the registrations it failed are answered on this pool
            calls.awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    void bind(DataSource db, AddressAllocator allocator, io.cloudbridge.store.Durability sync, io.cloudbridge.store.SecretSealer sealer,
            io.cloudbridge.api.policy.PolicyCompiler compiler) {
        this.secrets = sealer;
        this.policyCompiler = compiler;
        this.database = db;
        this.ipam = allocator;
        this.durability = sync;
    }

    int port() {
        return server.getPort();
    }

    int jwksPort() {
        return jwks.port();
    }

    String fingerprint() {
        return certificate.fingerprint();
    }

    RelayState state() {
        return state;
    }

    ControlService service() {
        return service;
    }
}
