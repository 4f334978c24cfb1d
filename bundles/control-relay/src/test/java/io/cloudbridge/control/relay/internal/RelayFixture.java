package io.cloudbridge.control.relay.internal;

import com.google.protobuf.ByteString;
import io.cloudbridge.control.v1.ControlServiceGrpc;
import io.cloudbridge.control.v1.NodeInfo;
import io.cloudbridge.control.v1.RegisterRequest;
import io.cloudbridge.control.v1.RegisterResponse;
import io.cloudbridge.ipam.internal.JdbcAddressAllocator;
import io.grpc.CallCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import java.lang.annotation.Annotation;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.concurrent.Executor;
import io.cloudbridge.testing.TestDatabase;
import javax.sql.DataSource;

/**
 * A real relay control service for tests: TLS 1.3 on loopback, a database of its own (an embedded H2
 * file in a fresh folder, or a PostgreSQL database on a real server), the real IPAM allocator, and
 * clients that trust exactly the relay's own certificate.
 */
final class RelayFixture implements AutoCloseable {
    final Path home;
    final DataSource pool;
    private final TestDatabase.Pool opened;
    /** The fleet key's sealer on PostgreSQL (as a relay sharing a server must have one), none on H2. */
    final io.cloudbridge.store.SecretSealer secrets;
    final JdbcAddressAllocator ipam;
    /** The running control service; {@link #restart()} replaces it. */
    RelayControlServer relay = new RelayControlServer();
    final RelayConfig config;
    /** The relay's time: real time, moved ahead by tests that must not wait out a minute's budget. */
    final MovableClock clock = new MovableClock();
    final io.cloudbridge.store.Durability durability;
    /** Set by a test to hold every flush until it counts down: registrations then wait in the writer. */
    volatile java.util.concurrent.CountDownLatch holdFlushes;
    /** Flushes that found {@link #holdFlushes} set. */
    final java.util.concurrent.atomic.AtomicInteger flushesHeld = new java.util.concurrent.atomic.AtomicInteger();

    RelayFixture(RelayConfig config) throws Exception {
        this(config, null);
    }

    /** On {@code database}; null for an embedded H2 file in the fixture's folder. */
    RelayFixture(RelayConfig config, TestDatabase database) throws Exception {
        this.config = config;
        home = Files.createTempDirectory("relay-test");
        TestDatabase engine = database == null ? TestDatabase.h2(home) : database;
        opened = engine.open();
        pool = opened.dataSource();
        boolean h2 = "H2".equals(engine.engine());
        secrets = h2 ? io.cloudbridge.store.FleetKeySealer.NONE : fleetKey(home);
        ipam = new JdbcAddressAllocator(pool, new io.cloudbridge.ipam.internal.IpamConfig() {
            @Override
            public Class<? extends Annotation> annotationType() {
                return io.cloudbridge.ipam.internal.IpamConfig.class;
            }

            public String ipv4Pool() {
                return "100.64.0.0/10";
            }

            public int tenantIpv4PrefixLength() {
                return 18;
            }

            public String ipv6Pool() {
                return "";
            }
        });
        durability = () -> {
            java.util.concurrent.CountDownLatch hold = holdFlushes;
            if (hold != null) {
                flushesHeld.incrementAndGet();
                try {
                    hold.await(30, java.util.concurrent.TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            if (h2) { // (a server's commits are durable already, as RelayDatabase tells the relay)
                try (java.sql.Connection c = pool.getConnection(); java.sql.Statement s = c.createStatement()) {
                    s.execute("CHECKPOINT");
                }
            }
        };
        relay.bind(pool, ipam, durability, secrets, new io.cloudbridge.policy.internal.YamlPolicyCompiler());
        relay.start(new io.cloudbridge.kernel.internal.environment.DaemonEnvironment(
                java.util.Map.of("cloudbridge.home", home.toString(), "cloudbridge.state", home.resolve("state").toString())::get),
                config, clock);
    }

    /**
     * Stops the control service and starts a new one on the same database and state folder, as a
     * restart of the relay does: what is only in memory (maps, members inside the relay) is gone.
     */
    void restart() throws Exception {
        relay.deactivate();
        relay = new RelayControlServer();
        relay.bind(pool, ipam, durability, secrets, new io.cloudbridge.policy.internal.YamlPolicyCompiler());
        relay.start(new io.cloudbridge.kernel.internal.environment.DaemonEnvironment(
                java.util.Map.of("cloudbridge.home", home.toString(), "cloudbridge.state", home.resolve("state").toString())::get),
                config, clock);
    }

    /** Real time plus an offset that tests move forward. */
    static final class MovableClock extends java.time.Clock {
        private volatile java.time.Duration ahead = java.time.Duration.ZERO;

        void advance(java.time.Duration by) {
            ahead = ahead.plus(by);
        }

        @Override
        public java.time.ZoneId getZone() {
            return java.time.ZoneOffset.UTC;
        }

        @Override
        public java.time.Clock withZone(java.time.ZoneId zone) {
            throw new UnsupportedOperationException();
        }

        @Override
        public Instant instant() {
            return Instant.now().plus(ahead);
        }
    }

    /** A new fleet key file in {@code folder} (owner-only), loaded. */
    static io.cloudbridge.store.FleetKeySealer fleetKey(Path folder) throws java.io.IOException {
        return io.cloudbridge.store.FleetKeySealer.load(io.cloudbridge.testing.FleetKeyFiles.write(folder.resolve("fleet.key"), 32));
    }

    RelayFixture() throws Exception {
        this(config(900));
    }

    static RelayConfig config(int tokenLifetimeSeconds) {
        return config(tokenLifetimeSeconds, 0);
    }

    static RelayConfig config(int tokenLifetimeSeconds, int nodeExpirySeconds) {
        Config c = new Config();
        c.tokenLifetimeSeconds = tokenLifetimeSeconds;
        c.nodeExpirySeconds = nodeExpirySeconds;
        return c;
    }

    /** The relay section as a test sets it: the shipped defaults unless a test changes a field. */
    static final class Config implements RelayConfig {
        int tokenLifetimeSeconds = 900;
        int nodeExpirySeconds;
        int registrationsPerNodePerMinute = 20;
        int registrationsPerTenantPerMinute = 6000;
        int registrationsPerPreAuthKeyPerMinute = 1200;
        int renewalsPerNodePerMinute = 20;
        int renewalsPerTenantPerMinute = 6000;
        int mapOpensPerNodePerMinute = 30;
        int mapOpensPerTenantPerMinute = 12000;
        int registrationQueue = 4096;
        int controlThreads = 32;

        @Override
        public Class<? extends Annotation> annotationType() {
            return RelayConfig.class;
        }

        public String listenAddress() {
            return "127.0.0.1";
        }

        public int controlPort() {
            return 0;
        }

        public int jwksPort() {
            return 0;
        }

        public String certificateFile() {
            return "";
        }

        public String privateKeyFile() {
            return "";
        }

        public String issuer() {
            return "test-relay";
        }

        public int tokenLifetimeSeconds() {
            return tokenLifetimeSeconds;
        }

        public int refreshLifetimeSeconds() {
            return 3600;
        }

        public int signingKeyRotationSeconds() {
            return 86_400;
        }

        public int nodeExpirySeconds() {
            return nodeExpirySeconds;
        }

        public int heartbeatSeconds() {
            return 30;
        }

        public int preAuthFailuresPerMinute() {
            return 10;
        }

        public int registrationsPerNodePerMinute() {
            return registrationsPerNodePerMinute;
        }

        public int registrationsPerTenantPerMinute() {
            return registrationsPerTenantPerMinute;
        }

        public int registrationsPerPreAuthKeyPerMinute() {
            return registrationsPerPreAuthKeyPerMinute;
        }

        public int renewalsPerNodePerMinute() {
            return renewalsPerNodePerMinute;
        }

        public int renewalsPerTenantPerMinute() {
            return renewalsPerTenantPerMinute;
        }

        public int mapOpensPerNodePerMinute() {
            return mapOpensPerNodePerMinute;
        }

        public int mapOpensPerTenantPerMinute() {
            return mapOpensPerTenantPerMinute;
        }

        public int registrationQueue() {
            return registrationQueue;
        }

        public int controlThreads() {
            return controlThreads;
        }
    }

    ManagedChannel channel() throws Exception {
        java.security.cert.X509Certificate cert = RelayCertificate.load(home.resolve("state/relay/tls/relay.crt"),
                home.resolve("state/relay/tls/relay.key")).certificate();
        return NettyChannelBuilder.forAddress("127.0.0.1", relay.port()).overrideAuthority("localhost")
                .sslContext(GrpcSslContexts.forClient().trustManager(cert).protocols("TLSv1.3").build()).build();
    }

    static byte[] randomKey() {
        byte[] k = new byte[32];
        new SecureRandom().nextBytes(k);
        return k;
    }

    String preAuthKey(String tenant, boolean reusable) throws Exception {
        return relay.state().createPreAuthKey(tenant, reusable, Instant.now().plusSeconds(3600), Instant.now());
    }

    static RegisterResponse register(ManagedChannel channel, String key, byte[] nodeKey, String hostname) {
        return ControlServiceGrpc.newBlockingStub(channel).register(RegisterRequest.newBuilder().setPreAuthKey(key)
                .setNode(NodeInfo.newBuilder().setWireguardPublicKey(ByteString.copyFrom(nodeKey)).setHostname(hostname)
                        .setOs("linux/amd64").addEndpoints("192.0.2.1:51820"))
                .build());
    }

    /** Registration again with the node's own token (how a node signs in after a restart). */
    static RegisterResponse registerWithToken(ManagedChannel channel, String jwt, byte[] nodeKey, String hostname) {
        return ControlServiceGrpc.newBlockingStub(channel).register(RegisterRequest.newBuilder().setNodeToken(jwt)
                .setNode(NodeInfo.newBuilder().setWireguardPublicKey(ByteString.copyFrom(nodeKey)).setHostname(hostname)
                        .setOs("linux/amd64").addEndpoints("192.0.2.1:51820"))
                .build());
    }

    /** Registration with the node's own token under a new key, with a rotation proof (or none: {@code proof} null). */
    static RegisterResponse rotate(ManagedChannel channel, String jwt, byte[] newKey, String hostname,
            io.cloudbridge.control.v1.KeyRotationProof proof) {
        RegisterRequest.Builder r = RegisterRequest.newBuilder().setNodeToken(jwt)
                .setNode(NodeInfo.newBuilder().setWireguardPublicKey(ByteString.copyFrom(newKey)).setHostname(hostname)
                        .setOs("linux/amd64").addEndpoints("192.0.2.1:51820"));
        if (proof != null) {
            r.setKeyRotation(proof);
        }
        return ControlServiceGrpc.newBlockingStub(channel).register(r.build());
    }

    /** An X25519 key pair: {private, public}. */
    static byte[][] keyPair() {
        byte[] priv = new byte[32];
        org.bouncycastle.math.ec.rfc7748.X25519.generatePrivateKey(new SecureRandom(), priv);
        byte[] pub = new byte[32];
        org.bouncycastle.math.ec.rfc7748.X25519.generatePublicKey(priv, 0, pub, 0);
        return new byte[][] {priv, pub};
    }

    /** What a rotating node sends: the HMAC of the rotation message under X25519(its old private key, the relay's key). */
    static io.cloudbridge.control.v1.KeyRotationProof proof(byte[] oldPrivate, byte[] relayKey, String nodeId, byte[] oldPublic,
            byte[] newPublic, long madeAt) throws Exception {
        byte[] shared = new byte[32];
        org.bouncycastle.math.ec.rfc7748.X25519.calculateAgreement(oldPrivate, 0, relayKey, 0, shared, 0);
        byte[] tag = io.cloudbridge.api.overlay.KeyRotationProof.mac(shared, io.cloudbridge.api.net.NodeKey.of(oldPublic),
                io.cloudbridge.api.net.NodeKey.of(relayKey), io.cloudbridge.api.overlay.KeyRotationProof.message(nodeId,
                        io.cloudbridge.api.net.NodeKey.of(oldPublic), io.cloudbridge.api.net.NodeKey.of(newPublic), madeAt));
        return io.cloudbridge.control.v1.KeyRotationProof.newBuilder().setMadeAtEpochSeconds(madeAt).setMac(ByteString.copyFrom(tag)).build();
    }

    static CallCredentials bearer(String token) {
        return new CallCredentials() {
            @Override
            public void applyRequestMetadata(RequestInfo info, Executor executor, MetadataApplier applier) {
                Metadata m = new Metadata();
                m.put(ControlService.AUTHORIZATION, "Bearer " + token);
                applier.apply(m);
            }
        };
    }

    @Override
    public void close() throws Exception {
        relay.deactivate();
        opened.close();
    }
}
