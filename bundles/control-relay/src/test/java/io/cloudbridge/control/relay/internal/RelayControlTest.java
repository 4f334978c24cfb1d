package io.cloudbridge.control.relay.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.PlainJWT;
import com.nimbusds.jwt.SignedJWT;
import io.cloudbridge.control.v1.ControlServiceGrpc;
import io.cloudbridge.control.v1.HeartbeatRequest;
import io.cloudbridge.control.v1.NetworkMapUpdate;
import io.cloudbridge.control.v1.NodeStatus;
import io.cloudbridge.control.v1.RefreshTokenRequest;
import io.cloudbridge.control.v1.RegisterResponse;
import io.cloudbridge.control.v1.SignalMessage;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Date;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/** The relay's control service end to end over TLS: registration, map deltas, tokens, revocation, bad input. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RelayControlTest {
    RelayFixture relay;
    ManagedChannel channel;
    /** The shared relay's meters: the tests that share it read what their own calls added. */
    final SimpleMeterRegistry meters = new SimpleMeterRegistry();

    /** A relay for these tests, on the engine they run on: embedded H2 here, PostgreSQL in {@link RelayControlOnPostgresTest}. */
    RelayFixture fixture(RelayConfig config) throws Exception {
        return new RelayFixture(config);
    }

    @BeforeAll
    void start() throws Exception {
        relay = fixture(RelayFixture.config(900));
        relay.relay.bindMeterRegistry(meters);
        channel = relay.channel();
    }

    @AfterAll
    void stop() throws Exception {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        relay.close();
    }

    private ControlServiceGrpc.ControlServiceBlockingStub as(String token) {
        return ControlServiceGrpc.newBlockingStub(channel).withCallCredentials(RelayFixture.bearer(token))
                .withDeadlineAfter(10, TimeUnit.SECONDS);
    }

    private MapWatch watch(String token) {
        return MapWatch.open(channel, token);
    }

    @Test
    void registrationMapDeltasAndTenantIsolation() throws Exception {
        String key = relay.preAuthKey("acme", true);
        byte[] aliceKey = RelayFixture.randomKey();
        RegisterResponse alice = RelayFixture.register(channel, key, aliceKey, "alice");
        assertEquals("acme", alice.getTenant());
        assertTrue(alice.getIpv4Address().startsWith("100.") && alice.getIpv4Address().endsWith("/18"), alice.getIpv4Address());
        assertTrue(alice.getIpv6Address().startsWith("fd") && alice.getIpv6Address().endsWith("/64"), alice.getIpv6Address());

        // The same key again, signed in with its own token: the same node, the same addresses.
        RegisterResponse again = RelayFixture.registerWithToken(channel, alice.getToken().getJwt(), aliceKey, "alice");
        assertEquals(alice.getNodeId(), again.getNodeId());
        assertEquals(alice.getIpv4Address(), again.getIpv4Address());
        // Its public key with the tenant's pre-auth key is not enough: keys are in every peer's map.
        StatusRuntimeException takeover = assertThrows(StatusRuntimeException.class,
                () -> RelayFixture.register(channel, key, aliceKey, "mallory"));
        assertEquals(Status.Code.ALREADY_EXISTS, takeover.getStatus().getCode());
        // Nor another node's token (without proof of that node's key, no rotation at all).
        RegisterResponse other = RelayFixture.register(channel, key, RelayFixture.randomKey(), "other");
        assertEquals(Status.Code.PERMISSION_DENIED, assertThrows(StatusRuntimeException.class,
                () -> RelayFixture.registerWithToken(channel, other.getToken().getJwt(), aliceKey, "mallory")).getStatus().getCode());
        assertEquals(alice.getNodeId(), relay.relay.state().nodes("acme").stream()
                .filter(n -> n.key().equals(java.util.Base64.getEncoder().encodeToString(aliceKey))).findFirst().orElseThrow().id());

        MapWatch aliceMap = watch(alice.getToken().getJwt());
        NetworkMapUpdate full = aliceMap.next();
        assertTrue(full.hasFull());
        assertTrue(full.getFull().getPeersList().stream().noneMatch(p -> p.getNodeId().equals(alice.getNodeId())), "not itself");

        long start = System.nanoTime();
        RegisterResponse bob = RelayFixture.register(channel, key, RelayFixture.randomKey(), "bob");
        NetworkMapUpdate delta = aliceMap.next();
        assertTrue(System.nanoTime() - start < Duration.ofSeconds(1).toNanos(), "delta within a second");
        assertEquals(bob.getNodeId(), delta.getUpsert().getNodeId());
        assertEquals(List.of(bob.getIpv4Address().replaceAll("/.*", "/32"), bob.getIpv6Address().replaceAll("/.*", "/128")),
                delta.getUpsert().getOverlayAddressesList());
        assertTrue(delta.getVersion() > full.getVersion());

        // Another tenant: its own prefix, and nothing of acme's.
        RegisterResponse eve = RelayFixture.register(channel, relay.preAuthKey("other", false), RelayFixture.randomKey(), "eve");
        assertNotEquals(block18(alice.getIpv4Address()), block18(eve.getIpv4Address()), "another tenant, another /18");
        MapWatch eveMap = watch(eve.getToken().getJwt());
        assertEquals(0, eveMap.next().getFull().getPeersCount());
        RelayFixture.register(channel, key, RelayFixture.randomKey(), "carol");
        assertEquals("carol", aliceMap.next().getUpsert().getHostname());
        assertTrue(eveMap.updates.poll(300, TimeUnit.MILLISECONDS) == null, "no delta of acme reaches other");

        // Heartbeat with new endpoints: a delta for the others.
        as(bob.getToken().getJwt()).heartbeat(HeartbeatRequest.newBuilder()
                .setStatus(NodeStatus.newBuilder().addEndpoints("198.51.100.7:41641")).build());
        assertEquals(List.of("198.51.100.7:41641"), aliceMap.next().getUpsert().getEndpointsList());
    }

    /**
     * A member inside the relay (the CONNECT-IP gateway): in its tenant's map as a node is, its
     * allowed IPs changing as clients come and go, gone when it leaves; it hears the tenant's
     * peers, and nothing of another tenant's.
     */
    @Test
    void aMemberInsideTheRelayIsInItsTenantsMapAndHearsItsPeers() throws Exception {
        String key = relay.preAuthKey("members", true);
        RegisterResponse dora = RelayFixture.register(channel, key, RelayFixture.randomKey(), "dora");
        MapWatch doraMap = watch(dora.getToken().getJwt());
        assertTrue(doraMap.next().hasFull());
        BlockingQueue<List<io.cloudbridge.api.relay.OverlayMembers.Member>> heard = new LinkedBlockingQueue<>();
        RelayMembers members = new RelayMembers(relay.relay.service().maps(), relay.relay.state(), relay.durability, "relay.test");
        io.cloudbridge.api.net.NodeKey gatewayKey = io.cloudbridge.api.net.NodeKey.of(RelayFixture.randomKey());
        io.cloudbridge.api.net.IpPrefix own = io.cloudbridge.api.net.IpPrefix.parse("100.64.200.1/32");
        io.cloudbridge.api.relay.OverlayMembers.Membership m = members.join("members", gatewayKey, "relay-gateway", List.of(own),
                heard::add);
        List<io.cloudbridge.api.relay.OverlayMembers.Member> now = heard.poll(5, TimeUnit.SECONDS);
        assertEquals(List.of("dora"), now.stream().map(io.cloudbridge.api.relay.OverlayMembers.Member::name).toList(), "not itself");

        NetworkMapUpdate joined = doraMap.next();
        assertEquals(m.nodeId(), joined.getUpsert().getNodeId());
        assertEquals("relay-gateway", joined.getUpsert().getHostname());
        assertEquals(List.of("100.64.200.1/32"), joined.getUpsert().getOverlayAddressesList());
        assertEquals("relay.test", joined.getUpsert().getHomeRelay());

        m.allowedIps(List.of(own, io.cloudbridge.api.net.IpPrefix.parse("100.64.200.9/32")));
        assertEquals(List.of("100.64.200.1/32", "100.64.200.9/32"), doraMap.next().getUpsert().getOverlayAddressesList());

        RelayFixture.register(channel, key, RelayFixture.randomKey(), "ella");
        List<io.cloudbridge.api.relay.OverlayMembers.Member> later;
        do {
            later = heard.poll(5, TimeUnit.SECONDS);
        } while (later != null && later.size() < 2);
        assertTrue(later != null && later.stream().anyMatch(p -> p.name().equals("ella")), "hears a new node of its tenant");
        RelayFixture.register(channel, relay.preAuthKey("strangers", false), RelayFixture.randomKey(), "stranger");
        doraMap.next(); // ella's upsert
        m.close();
        assertEquals(m.nodeId(), doraMap.next().getRemoved().getNodeId());
        assertTrue(heard.stream().flatMap(List::stream).noneMatch(p -> p.name().equals("stranger")), "nothing of another tenant");
    }

    /** The /18 block an "a.b.c.d/18" address is in. */
    private static int block18(String address) throws Exception {
        byte[] b = java.net.InetAddress.getByName(address.substring(0, address.indexOf('/'))).getAddress();
        return ((b[0] & 0xff) << 24 | (b[1] & 0xff) << 16 | (b[2] & 0xff) << 8 | (b[3] & 0xff)) >>> 14;
    }

    @Test
    void signallingStaysInsideTheTenant() throws Exception {
        String key = relay.preAuthKey("signals", true);
        RegisterResponse a = RelayFixture.register(channel, key, RelayFixture.randomKey(), "sa");
        RegisterResponse b = RelayFixture.register(channel, key, RelayFixture.randomKey(), "sb");
        RegisterResponse x = RelayFixture.register(channel, relay.preAuthKey("elsewhere", true), RelayFixture.randomKey(), "sx");
        BlockingQueue<SignalMessage> toB = new LinkedBlockingQueue<>();
        BlockingQueue<SignalMessage> toX = new LinkedBlockingQueue<>();
        StreamObserver<SignalMessage> bStream = ControlServiceGrpc.newStub(channel).withCallCredentials(RelayFixture.bearer(b.getToken().getJwt()))
                .signal(collector(toB));
        StreamObserver<SignalMessage> xStream = ControlServiceGrpc.newStub(channel).withCallCredentials(RelayFixture.bearer(x.getToken().getJwt()))
                .signal(collector(toX));
        StreamObserver<SignalMessage> aStream = ControlServiceGrpc.newStub(channel).withCallCredentials(RelayFixture.bearer(a.getToken().getJwt()))
                .signal(collector(new LinkedBlockingQueue<>()));
        // The recipients' streams are open once a message sent on them arrives anywhere; send until one lands.
        SignalMessage offer = SignalMessage.newBuilder().setToNodeId(b.getNodeId()).setPayloadType("ice.offer").setPayloadVersion(1)
                .setPayload(com.google.protobuf.ByteString.copyFromUtf8("v=0")).setFromNodeId("forged").build();
        SignalMessage got = null;
        for (int i = 0; i < 50 && got == null; i++) {
            aStream.onNext(offer);
            got = toB.poll(100, TimeUnit.MILLISECONDS);
        }
        assertTrue(got != null, "b got a's offer");
        assertEquals(a.getNodeId(), got.getFromNodeId(), "the relay sets the sender, whatever the message says");
        assertEquals("ice.offer", got.getPayloadType());
        aStream.onNext(offer.toBuilder().setToNodeId(x.getNodeId()).build());
        assertTrue(toX.poll(300, TimeUnit.MILLISECONDS) == null, "another tenant's node is unreachable");
        aStream.onCompleted();
        bStream.onCompleted();
        xStream.onCompleted();
    }

    private static StreamObserver<SignalMessage> collector(BlockingQueue<SignalMessage> q) {
        return new StreamObserver<>() {
            public void onNext(SignalMessage m) {
                q.add(m);
            }

            public void onError(Throwable t) {
            }

            public void onCompleted() {
            }
        };
    }

    @Test
    void theRelaysJwksVerifiesItsNodeTokens() throws Exception {
        RegisterResponse n = RelayFixture.register(channel, relay.preAuthKey("jwks", true), RelayFixture.randomKey(), "j1");
        javax.net.ssl.SSLContext tls = javax.net.ssl.SSLContext.getInstance("TLSv1.3");
        java.security.KeyStore trust = java.security.KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        trust.setCertificateEntry("relay", RelayCertificate.load(relay.home.resolve("state/relay/tls/relay.crt"),
                relay.home.resolve("state/relay/tls/relay.key")).certificate());
        javax.net.ssl.TrustManagerFactory tmf = javax.net.ssl.TrustManagerFactory.getInstance(javax.net.ssl.TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        tls.init(null, tmf.getTrustManagers(), null);
        java.net.http.HttpClient http = java.net.http.HttpClient.newBuilder().sslContext(tls).build();
        java.net.http.HttpResponse<String> r = http.send(java.net.http.HttpRequest.newBuilder(
                java.net.URI.create("https://localhost:" + relay.relay.jwksPort() + "/.well-known/jwks.json")).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode());
        JWKSet keys = JWKSet.parse(r.body());
        assertTrue(keys.getKeys().stream().noneMatch(com.nimbusds.jose.jwk.JWK::isPrivate), "public keys only");
        SignedJWT token = SignedJWT.parse(n.getToken().getJwt());
        ECKey key = (ECKey) keys.getKeyByKeyId(token.getHeader().getKeyID());
        assertTrue(token.verify(new com.nimbusds.jose.crypto.ECDSAVerifier(key)), "the published key verifies the node's token");
        assertEquals(404, http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create("https://localhost:" + relay.relay.jwksPort()
                + "/other")).build(), java.net.http.HttpResponse.BodyHandlers.ofString()).statusCode());
    }

    /** Bytes that are no protobuf message, and a truncated real one: a clear status, nothing stored. */
    @Test
    void malformedAndTruncatedMessagesAreRefused() throws Exception {
        io.grpc.MethodDescriptor.Marshaller<byte[]> raw = new io.grpc.MethodDescriptor.Marshaller<>() {
            public java.io.InputStream stream(byte[] value) {
                return new java.io.ByteArrayInputStream(value);
            }

            public byte[] parse(java.io.InputStream in) {
                try {
                    return in.readAllBytes();
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }
        };
        io.grpc.MethodDescriptor<byte[], byte[]> register = io.grpc.MethodDescriptor.<byte[], byte[]>newBuilder()
                .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
                .setFullMethodName("cloudbridge.control.v1.ControlService/Register").setRequestMarshaller(raw).setResponseMarshaller(raw).build();
        int before = relay.relay.state().nodes(null).size();
        byte[] real = io.cloudbridge.control.v1.RegisterRequest.newBuilder().setPreAuthKey(relay.preAuthKey("raw", true))
                .setNode(io.cloudbridge.control.v1.NodeInfo.newBuilder().setHostname("raw")
                        .setWireguardPublicKey(com.google.protobuf.ByteString.copyFrom(RelayFixture.randomKey()))).build().toByteArray();
        for (byte[] bad : List.of(new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, 0x0f}, java.util.Arrays.copyOf(real, real.length / 2))) {
            StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                    () -> io.grpc.stub.ClientCalls.blockingUnaryCall(channel, register, io.grpc.CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS), bad));
            // gRPC itself refuses what does not parse, before any of the relay's code runs: INTERNAL when
            // the frame is refused early, UNKNOWN when the unary call's message is parsed at half-close.
            assertTrue(e.getStatus().getCode() == Status.Code.INTERNAL || e.getStatus().getCode() == Status.Code.UNKNOWN,
                    String.valueOf(e.getStatus()));
        }
        // gRPC ends the stream (and the relay counts it) just after the client has its answer.
        assertCountedWithin("malformed message", 2L);
        assertEquals(before, relay.relay.state().nodes(null).size(), "nothing stored");
        RelayFixture.register(channel, relay.preAuthKey("raw", true), RelayFixture.randomKey(), "still-serving");
    }

    /** A node silent past the expiry is removed and its address released; a node that reports stays. */
    @Test
    void silentNodesExpireAndFreeTheirAddresses() throws Exception {
        RelayFixture expiring = fixture(RelayFixture.config(900, 2));
        ManagedChannel ch = expiring.channel();
        try {
            String key = expiring.preAuthKey("ephemeral", true);
            RegisterResponse silent = RelayFixture.register(ch, key, RelayFixture.randomKey(), "silent");
            RegisterResponse chatty = RelayFixture.register(ch, key, RelayFixture.randomKey(), "chatty");
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            // Until the node is gone and its lease too (removal takes the node first, then the lease).
            while ((expiring.relay.state().node(silent.getNodeId()).isPresent() || expiring.ipam.leases("ephemeral").size() > 1)
                    && System.nanoTime() < deadline) {
                ControlServiceGrpc.newBlockingStub(ch).withCallCredentials(RelayFixture.bearer(chatty.getToken().getJwt()))
                        .heartbeat(HeartbeatRequest.getDefaultInstance());
                Thread.onSpinWait();
            }
            assertFalse(expiring.relay.state().node(silent.getNodeId()).isPresent(), "the silent node expired");
            assertTrue(expiring.relay.state().node(chatty.getNodeId()).isPresent(), "the reporting node stays");
            assertTrue(expiring.ipam.lease("ephemeral", io.cloudbridge.api.net.NodeKey.parse(
                    expiring.relay.state().node(chatty.getNodeId()).get().key())).isPresent());
            assertEquals(1, expiring.ipam.leases("ephemeral").size(), "the silent node's address was released");
        } finally {
            ch.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            expiring.close();
        }
    }

    /**
     * A node rotating its WireGuard key signs in with its own token under the new key and proves
     * that it holds the old one: the same node and addresses, its peers see the new key in place
     * of the old, the old key's tokens stop working. A token alone rotates nothing (no proof, a
     * proof by another key, an old proof, a token from before the rotation), and no rotation takes
     * another node's key or the CONNECT-IP gateway's.
     */
    @Test
    void aNodeRotatesItsKeyWithProofAndKeepsItsIdentityAndAddresses() throws Exception {
        String key = relay.preAuthKey("rotate", true);
        byte[][] old = RelayFixture.keyPair();
        RegisterResponse node = RelayFixture.register(channel, key, old[1], "rotor");
        byte[] relayKey = node.getRelayKey().toByteArray();
        assertEquals(32, relayKey.length, "the relay's rotation key comes with every registration");
        RegisterResponse peer = RelayFixture.register(channel, key, RelayFixture.randomKey(), "watcher");
        MapWatch peerMap = watch(peer.getToken().getJwt());
        assertEquals(1, peerMap.next().getFull().getPeersCount());
        long now = java.time.Instant.now().getEpochSecond();
        byte[][] next = RelayFixture.keyPair();
        String jwt = node.getToken().getJwt();
        double rotationsBefore = count(meters, ControlMeters.ROTATIONS, "accepted", "none");
        double noProofBefore = count(meters, ControlMeters.ROTATIONS, "refused", "no_proof");
        double badProofBefore = count(meters, ControlMeters.ROTATIONS, "refused", "bad_proof");
        double keyTakenBefore = count(meters, ControlMeters.REGISTRATIONS, "refused", "key_taken");

        // A token alone is not enough: its holder would become the node under a key of their own.
        assertEquals(Status.Code.PERMISSION_DENIED, assertThrows(StatusRuntimeException.class,
                () -> RelayFixture.rotate(channel, jwt, next[1], "rotor", null)).getStatus().getCode());
        byte[][] stranger = RelayFixture.keyPair();
        StatusRuntimeException forged = assertThrows(StatusRuntimeException.class, () -> RelayFixture.rotate(channel, jwt, next[1], "rotor",
                RelayFixture.proof(stranger[0], relayKey, node.getNodeId(), old[1], next[1], now)));
        assertEquals(Status.Code.PERMISSION_DENIED, forged.getStatus().getCode());
        assertEquals("the key rotation proof does not hold", forged.getStatus().getDescription());
        assertEquals(Status.Code.PERMISSION_DENIED, assertThrows(StatusRuntimeException.class, () -> RelayFixture.rotate(channel, jwt,
                next[1], "rotor", RelayFixture.proof(old[0], relayKey, node.getNodeId(), old[1], next[1], now - 3600))).getStatus().getCode());
        assertEquals(Status.Code.PERMISSION_DENIED, assertThrows(StatusRuntimeException.class, () -> RelayFixture.rotate(channel, jwt,
                stranger[1], "rotor", RelayFixture.proof(old[0], relayKey, node.getNodeId(), old[1], next[1], now))).getStatus().getCode(),
                "a proof for another new key");
        // Nor onto the key of another node of the tenant, even with a good proof.
        byte[] watcherKey = relay.relay.state().node(peer.getNodeId()).map(n -> java.util.Base64.getDecoder().decode(n.key())).orElseThrow();
        assertEquals(Status.Code.ALREADY_EXISTS, assertThrows(StatusRuntimeException.class, () -> RelayFixture.rotate(channel, jwt,
                watcherKey, "rotor", RelayFixture.proof(old[0], relayKey, node.getNodeId(), old[1], watcherKey, now))).getStatus().getCode());

        assertEquals(0, count(meters, ControlMeters.ROTATIONS, "accepted", "none") - rotationsBefore);
        assertEquals(1, count(meters, ControlMeters.ROTATIONS, "refused", "no_proof") - noProofBefore);
        assertEquals(3, count(meters, ControlMeters.ROTATIONS, "refused", "bad_proof") - badProofBefore, "forged, stale, for another key");
        assertEquals(1, count(meters, ControlMeters.REGISTRATIONS, "refused", "key_taken") - keyTakenBefore,
                "a good proof for a taken key: a refused registration, not a refused proof");

        RegisterResponse rotated = RelayFixture.rotate(channel, jwt, next[1], "rotor",
                RelayFixture.proof(old[0], relayKey, node.getNodeId(), old[1], next[1], now));
        assertEquals(1, count(meters, ControlMeters.ROTATIONS, "accepted", "none") - rotationsBefore);
        assertEquals(node.getNodeId(), rotated.getNodeId());
        assertEquals(node.getIpv4Address(), rotated.getIpv4Address());
        assertEquals(node.getIpv6Address(), rotated.getIpv6Address());
        io.cloudbridge.control.v1.Peer seen = peerMap.next().getUpsert();
        assertEquals(node.getNodeId(), seen.getNodeId());
        assertArrayEquals(next[1], seen.getWireguardPublicKey().toByteArray());
        assertEquals(1, relay.relay.state().nodes("rotate").stream().filter(n -> n.hostname().equals("rotor")).count());
        assertEquals(2, relay.ipam.leases("rotate").size(), "the lease moved with the key; none left behind");

        // The old key's token: no more calls, and no second rotation, even with a good proof.
        StatusRuntimeException stale = assertThrows(StatusRuntimeException.class,
                () -> as(jwt).heartbeat(HeartbeatRequest.getDefaultInstance()));
        assertEquals(Status.Code.UNAUTHENTICATED, stale.getStatus().getCode());
        byte[][] third = RelayFixture.keyPair();
        assertEquals(Status.Code.PERMISSION_DENIED, assertThrows(StatusRuntimeException.class, () -> RelayFixture.rotate(channel, jwt,
                third[1], "rotor", RelayFixture.proof(old[0], relayKey, node.getNodeId(), old[1], third[1], now))).getStatus().getCode());
        as(rotated.getToken().getJwt()).heartbeat(HeartbeatRequest.getDefaultInstance());
        assertEquals(rotated.getIpv4Address(), RelayFixture.registerWithToken(channel, rotated.getToken().getJwt(), next[1], "rotor")
                .getIpv4Address());

        // A member inside the relay (the CONNECT-IP gateway) has its key in the map and a lease, and no node record.
        byte[][] gateway = RelayFixture.keyPair();
        io.cloudbridge.api.net.NodeKey gatewayKey = io.cloudbridge.api.net.NodeKey.of(gateway[1]);
        relay.ipam.allocate("rotate", gatewayKey);
        try (var member = new RelayMembers(relay.relay.service().maps(), relay.relay.state(), relay.durability, "relay").join("rotate", gatewayKey, "relay-gateway",
                List.of(io.cloudbridge.api.net.IpPrefix.parse("100.64.0.99/32")), peers -> { })) {
            assertEquals(Status.Code.ALREADY_EXISTS, assertThrows(StatusRuntimeException.class, () -> RelayFixture.rotate(channel,
                    rotated.getToken().getJwt(), gateway[1], "rotor",
                    RelayFixture.proof(next[0], relayKey, node.getNodeId(), next[1], gateway[1], now))).getStatus().getCode());
            assertEquals(Status.Code.ALREADY_EXISTS, assertThrows(StatusRuntimeException.class,
                    () -> RelayFixture.register(channel, key, gateway[1], "mallory")).getStatus().getCode());
        } finally {
            relay.ipam.release("rotate", gatewayKey);
        }
    }

    @Test
    void refreshTokensWorkOnceAndRenewedTokensWork() throws Exception {
        RegisterResponse n = RelayFixture.register(channel, relay.preAuthKey("refresh", false), RelayFixture.randomKey(), "r1");
        double renewedBefore = count(meters, ControlMeters.RENEWALS, "accepted", "none");
        double refusedBefore = count(meters, ControlMeters.RENEWALS, "refused", "bad_refresh_token");
        var stub = ControlServiceGrpc.newBlockingStub(channel);
        var renewed = stub.refreshToken(RefreshTokenRequest.newBuilder().setRefreshToken(n.getToken().getRefreshToken()).build());
        as(renewed.getToken().getJwt()).heartbeat(HeartbeatRequest.getDefaultInstance());
        StatusRuntimeException reused = assertThrows(StatusRuntimeException.class,
                () -> stub.refreshToken(RefreshTokenRequest.newBuilder().setRefreshToken(n.getToken().getRefreshToken()).build()));
        assertEquals(Status.Code.UNAUTHENTICATED, reused.getStatus().getCode());
        // One live refresh token per node: signing in again replaces the last one.
        RegisterResponse again = RelayFixture.registerWithToken(channel, renewed.getToken().getJwt(),
                java.util.Base64.getDecoder().decode(relay.relay.state().node(n.getNodeId()).get().key()), "r1");
        assertEquals(Status.Code.UNAUTHENTICATED, assertThrows(StatusRuntimeException.class,
                () -> stub.refreshToken(RefreshTokenRequest.newBuilder().setRefreshToken(renewed.getToken().getRefreshToken()).build()))
                .getStatus().getCode());
        stub.refreshToken(RefreshTokenRequest.newBuilder().setRefreshToken(again.getToken().getRefreshToken()).build());
        assertEquals(2, count(meters, ControlMeters.RENEWALS, "accepted", "none") - renewedBefore);
        assertEquals(2, count(meters, ControlMeters.RENEWALS, "refused", "bad_refresh_token") - refusedBefore, "used, and replaced");
    }

    /** A sign-in counter's count: {@code reason} "none" for the accepted. */
    static double count(SimpleMeterRegistry meters, String name, String outcome, String reason) {
        return meters.get(name).tags("outcome", outcome, "reason", reason).functionCounter().count();
    }

    @Test
    void removingANodeVoidsItsTokenAndEndsItsStreamsWithinASecond() throws Exception {
        RegisterResponse n = RelayFixture.register(channel, relay.preAuthKey("revoke", true), RelayFixture.randomKey(), "gone");
        MapWatch w = watch(n.getToken().getJwt());
        w.next(); // the full map: the stream is open
        long start = System.nanoTime();
        relay.relay.service().deleteNode(n.getNodeId());
        Throwable ended = w.ended.poll(1, TimeUnit.SECONDS);
        assertTrue(ended != null, "stream ended within a second");
        assertTrue(System.nanoTime() - start < Duration.ofSeconds(1).toNanos());
        assertEquals(Status.Code.UNAUTHENTICATED, Status.fromThrowable(ended).getCode());
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                () -> as(n.getToken().getJwt()).heartbeat(HeartbeatRequest.getDefaultInstance()));
        assertEquals(Status.Code.UNAUTHENTICATED, e.getStatus().getCode());
        assertEquals("node removed", e.getStatus().getDescription());
    }

    @Test
    void forgedTamperedAndStaleTokensAreRefusedEachWithItsReason() throws Exception {
        RegisterResponse n = RelayFixture.register(channel, relay.preAuthKey("forgery", true), RelayFixture.randomKey(), "victim");
        String good = n.getToken().getJwt();
        SignedJWT parsed = SignedJWT.parse(good);
        JWTClaimsSet claims = parsed.getJWTClaimsSet();
        ECKey foreign = new ECKeyGenerator(Curve.P_256).keyID(parsed.getHeader().getKeyID()).generate();
        NodeTokens verifierOfRecord = new NodeTokens(relay.relay.state(), "test-relay", Duration.ofSeconds(900), Duration.ofDays(1));
        JWKSet jwks = JWKSet.parse(verifierOfRecord.jwks());
        byte[] publicKeyBytes = jwks.getKeyByKeyId(parsed.getHeader().getKeyID()).toJSONString().getBytes();

        String none = new PlainJWT(claims).serialize();
        String hs256 = sign(new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.HS256).keyID(parsed.getHeader().getKeyID()).build(), claims),
                new MACSigner(java.util.Arrays.copyOf(publicKeyBytes, Math.max(32, publicKeyBytes.length))));
        String wrongKey = sign(new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.ES256).keyID(parsed.getHeader().getKeyID()).build(), claims),
                new ECDSASigner(foreign));
        String unknownKid = sign(new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.ES256).keyID("not-ours").build(), claims),
                new ECDSASigner(foreign));
        String[] parts = good.split("\\.");
        String tamperedClaims = new JWTClaimsSet.Builder(claims).claim("tenant", "someone-else").build().toString();
        String tampered = parts[0] + "." + Base64.getUrlEncoder().withoutPadding().encodeToString(tamperedClaims.getBytes()) + "." + parts[2];
        StringBuilder expired = new StringBuilder();
        verifierOfRecord.issue(n.getNodeId(), "forgery", claims.getStringClaim("node_key"), Instant.now().minus(Duration.ofHours(2)), expired);
        String wrongIssuer = reissue(relay, claims, b -> b.issuer("someone-else"));
        String wrongAudience = reissue(relay, claims, b -> b.audience("another-service"));
        String notYet = reissue(relay, claims, b -> b.notBeforeTime(Date.from(Instant.now().plus(Duration.ofHours(1)))));
        String otherTenant = reissue(relay, claims, b -> b.claim("tenant", "acme"));

        assertRefused(none, "malformed token");
        assertRefused(hs256, "algorithm not allowed: HS256");
        assertRefused(wrongKey, "bad signature");
        assertRefused(unknownKid, "unknown key id");
        assertRefused(tampered, "bad signature");
        assertRefused(expired.toString(), "expired");
        assertRefused(wrongIssuer, "wrong issuer");
        assertRefused(wrongAudience, "wrong audience");
        assertRefused(notYet, "not yet valid");
        assertRefused(otherTenant, "token does not match the node");
        assertRefused("x".repeat(5000), "token too long");
        // A megabyte token as a header: the relay advertises a 16 KiB header list (HTTP/2 SETTINGS),
        // so the gRPC client refuses to send it and nothing reaches the relay to be counted.
        StatusRuntimeException huge = assertThrows(StatusRuntimeException.class,
                () -> as("y".repeat(1 << 20)).heartbeat(HeartbeatRequest.getDefaultInstance()));
        assertFalse(huge.getStatus().isOk());
        // In a registration the token travels in the message: the relay's message limit stops it,
        // gRPC refuses it before any of the relay's code, and the relay still counts it.
        StatusRuntimeException hugeInBody = assertThrows(StatusRuntimeException.class, () -> ControlServiceGrpc.newBlockingStub(channel)
                .register(io.cloudbridge.control.v1.RegisterRequest.newBuilder().setOidcAccessToken("z".repeat(1 << 20))
                        .setNode(io.cloudbridge.control.v1.NodeInfo.newBuilder().setHostname("huge")
                                .setWireguardPublicKey(com.google.protobuf.ByteString.copyFrom(RelayFixture.randomKey()))).build()));
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, hugeInBody.getStatus().getCode(), String.valueOf(hugeInBody.getStatus()));
        assertCountedWithin("oversized message", 1L);
        // Refusals whose text the caller chooses do not grow the relay's counters.
        for (int i = 0; i < 300; i++) {
            String header = Base64.getUrlEncoder().withoutPadding().encodeToString(("{\"alg\":\"X" + i + "\"}").getBytes());
            assertThrows(StatusRuntimeException.class, () -> as(header + ".e30.c2ln").heartbeat(HeartbeatRequest.getDefaultInstance()));
        }
        assertTrue(relay.relay.service().refusals().size() <= 129, "bounded: " + relay.relay.service().refusals().size());
        // The good one still works.
        as(good).heartbeat(HeartbeatRequest.getDefaultInstance());
    }

    /** Waits up to 5 s for the relay to have counted {@code expected} refusals of the kind. */
    private void assertCountedWithin(String kind, long expected) {
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (relay.relay.service().refusals().getOrDefault(kind, 0L) < expected && System.nanoTime() < deadline) {
            Thread.onSpinWait();
        }
        assertEquals(expected, relay.relay.service().refusals().getOrDefault(kind, 0L), "counted: " + relay.relay.service().refusals());
    }

    private static String sign(SignedJWT jwt, com.nimbusds.jose.JWSSigner signer) throws Exception {
        jwt.sign(signer);
        return jwt.serialize();
    }

    /** A token signed with the relay's real key but with a claim changed: only the check of that claim can refuse it. */
    private static String reissue(RelayFixture relay, JWTClaimsSet claims, java.util.function.UnaryOperator<JWTClaimsSet.Builder> change)
            throws Exception {
        SigningKeys.Key key = relay.relay.state().signingKeys().list().get(0);
        ECKey ec = ECKey.parse(key.privateJwk());
        return sign(new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.ES256).keyID(ec.getKeyID()).build(),
                change.apply(new JWTClaimsSet.Builder(claims)).build()), new ECDSASigner(ec));
    }

    private void assertRefused(String token, String reason) {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> as(token).heartbeat(HeartbeatRequest.getDefaultInstance()));
        assertEquals(Status.Code.UNAUTHENTICATED, e.getStatus().getCode(), reason);
        assertEquals(reason, e.getStatus().getDescription());
        String kind = reason.contains(":") ? reason.substring(0, reason.indexOf(':')) : reason;
        assertTrue(relay.relay.service().refusals().getOrDefault(kind, 0L) > 0, "counted: " + kind);
    }

    @Test
    void badPreAuthKeysAndBadNodeInfoAreRefused() throws Exception {
        // A relay of its own: the guessing budget it uses up is per source address, and every test here is 127.0.0.1.
        RelayFixture relay = fixture(RelayFixture.config(900));
        ManagedChannel channel = relay.channel();
        SimpleMeterRegistry meters = new SimpleMeterRegistry();
        relay.relay.bindMeterRegistry(meters);
        try {
            refusals(relay, channel);
            assertEquals(2, count(meters, ControlMeters.REGISTRATIONS, "accepted", "none"));
            assertEquals(1, count(meters, ControlMeters.REGISTRATIONS, "refused", "pre_auth_key_used"));
            assertEquals(1, count(meters, ControlMeters.REGISTRATIONS, "refused", "pre_auth_key_revoked"));
            assertEquals(1, count(meters, ControlMeters.REGISTRATIONS, "refused", "pre_auth_key_expired"));
            assertEquals(7, count(meters, ControlMeters.REGISTRATIONS, "refused", "pre_auth_key_unknown"),
                    "the guesses until the used, revoked and expired keys and these made ten failures");
            assertEquals(5, count(meters, ControlMeters.REGISTRATIONS, "refused", "bad_node_info"));
            assertEquals(4, count(meters, ControlMeters.REGISTRATIONS, "refused", "too_many_failed_keys"),
                    "three guesses and the right key");
            assertEquals(AuthRefusal.values().length + 3, meters.getMeters().size(),
                    "a refused counter per fixed reason, an accepted one per sign-in, nothing the callers' words added");
            // The control service stops (a change of its section): its meters go with it.
            relay.restart();
            assertEquals(List.of(), meters.getMeters());
        } finally {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            relay.close();
        }
    }

    private static void refusals(RelayFixture relay, ManagedChannel channel) throws Exception {
        String once = relay.preAuthKey("keys", false);
        RelayFixture.register(channel, once, RelayFixture.randomKey(), "first");
        assertCode(Status.Code.UNAUTHENTICATED, "pre-auth key used", () -> RelayFixture.register(channel, once, RelayFixture.randomKey(), "second"));
        String revoked = relay.preAuthKey("keys", true);
        RelayFixture.register(channel, revoked, RelayFixture.randomKey(), "before-revocation"); // the relay now holds it as good
        relay.relay.state().revokePreAuthKey(revoked.substring(4, 16));
        assertCode(Status.Code.UNAUTHENTICATED, "pre-auth key revoked", () -> RelayFixture.register(channel, revoked, RelayFixture.randomKey(), "r"));
        String expired = relay.relay.state().createPreAuthKey("keys", true, Instant.now().minusSeconds(1), Instant.now().minusSeconds(60));
        assertCode(Status.Code.UNAUTHENTICATED, "pre-auth key expired", () -> RelayFixture.register(channel, expired, RelayFixture.randomKey(), "e"));
        String good = relay.preAuthKey("keys", true);
        assertCode(Status.Code.INVALID_ARGUMENT, "bad node info: wireguard_public_key must be 32 bytes",
                () -> RelayFixture.register(channel, good, new byte[31], "short"));
        // Low-order points (RFC 7748 §6.1: X25519 with them is zero): 0, 1, and a point of order 8.
        byte[] one = new byte[32];
        one[0] = 1;
        byte[] orderEight = java.util.HexFormat.of().parseHex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800");
        for (byte[] low : List.of(new byte[32], one, orderEight)) {
            assertCode(Status.Code.INVALID_ARGUMENT, "bad node info: wireguard_public_key is a low-order point",
                    () -> RelayFixture.register(channel, good, low, "low-order"));
        }
        assertCode(Status.Code.INVALID_ARGUMENT, "bad node info: hostname must be 1-255 of A-Z a-z 0-9 . _ -",
                () -> RelayFixture.register(channel, good, RelayFixture.randomKey(), "bad host; name"));
        // A message larger than the relay takes: gRPC refuses it before our code.
        assertCode(Status.Code.RESOURCE_EXHAUSTED, null, () -> RelayFixture.register(channel, good, RelayFixture.randomKey(), "h".repeat(70_000)));
        // Guessing: after the budget of failures per minute, even a right key waits.
        for (int i = 0; i < 10; i++) {
            try {
                RelayFixture.register(channel, "cbk_000000000000_" + "A".repeat(43), RelayFixture.randomKey(), "guess");
            } catch (StatusRuntimeException expectedRefusal) {
                // counted
            }
        }
        assertCode(Status.Code.RESOURCE_EXHAUSTED, "too many failed pre-auth keys from this address; wait a minute",
                () -> RelayFixture.register(channel, good, RelayFixture.randomKey(), "patient"));
    }

    private static void assertCode(Status.Code code, String description, Runnable call) {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, call::run);
        assertEquals(code, e.getStatus().getCode(), String.valueOf(e.getStatus()));
        if (description != null) {
            assertEquals(description, e.getStatus().getDescription());
        }
    }
}
