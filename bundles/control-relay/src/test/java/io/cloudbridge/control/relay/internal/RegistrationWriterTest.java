package io.cloudbridge.control.relay.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.ipam.internal.IpamConfig;
import io.cloudbridge.ipam.internal.JdbcAddressAllocator;
import io.cloudbridge.store.Durability;
import java.lang.annotation.Annotation;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.h2.jdbcx.JdbcConnectionPool;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Registrations written in bursts, against a real H2 file and the real address allocator. The
 * first registration's flush is held until the rest are queued, so that they form one burst.
 */
class RegistrationWriterTest {
    @TempDir
    Path dir;
    private JdbcConnectionPool pool;
    private RegistrationWriter writer;
    private JdbcAddressAllocator ipam;
    private final AtomicInteger flushes = new AtomicInteger();
    private final CountDownLatch release = new CountDownLatch(1);
    private final CountDownLatch firstFlushBegun = new CountDownLatch(1);

    @AfterEach
    void close() throws Exception {
        release.countDown();
        if (writer != null) {
            writer.close();
        }
        pool.dispose();
    }

    private RelayState open(int tenantPrefixLength) throws Exception {
        return open(tenantPrefixLength, 4096);
    }

    private RelayState open(int tenantPrefixLength, int bound) throws Exception {
        pool = JdbcConnectionPool.create("jdbc:h2:file:" + dir.resolve("relay").toAbsolutePath(), "", "");
        RelayState state = new RelayState(pool, io.cloudbridge.store.FleetKeySealer.NONE);
        ipam = new JdbcAddressAllocator(pool, ipamConfig(tenantPrefixLength));
        Durability heldOnce = () -> {
            if (flushes.getAndIncrement() == 0) {
                firstFlushBegun.countDown();
                try {
                    assertTrue(release.await(10, TimeUnit.SECONDS));
                } catch (InterruptedException e) {
                    throw new java.sql.SQLException(e);
                }
            }
            try (Connection c = pool.getConnection(); Statement s = c.createStatement()) {
                s.execute("CHECKPOINT");
            }
        };
        writer = new RegistrationWriter(state, ipam, heldOnce, bound);
        return state;
    }

    private static String key(int n) {
        byte[] b = new byte[32];
        b[0] = (byte) n;
        b[31] = 7;
        return Base64.getEncoder().encodeToString(b);
    }

    /** A node signing in with its own token (naming key {@code tokenKey}) under key {@code key}. */
    private static RelayState.Registration signIn(String tenant, int key, String ownNodeId, int tokenKey) {
        Instant now = Instant.now();
        return new RelayState.Registration(tenant, key(key), "host-" + key, "linux/amd64", List.of("192.0.2.1:51820"), ownNodeId,
                key(tokenKey), now, now.plusSeconds(3600), RelayState.Identity.NONE);
    }

    private java.util.Optional<java.net.InetAddress> address(String tenant, int key) {
        return ipam.lease(tenant, io.cloudbridge.api.net.NodeKey.parse(key(key))).map(l -> l.ipv4());
    }

    /**
     * Rotations and sign-ins that do not go through leave every lease where it was: a token from
     * before a rotation, a key another node has, a node that is gone; a rotation keeps the node's
     * address; a sign-in and a rotation of one node in one burst are judged one after the other.
     */
    @Test
    void registrationsThatDoNotGoThroughLeaveEveryLeaseWhereItWas() throws Exception {
        RelayState state = open(18);
        List<RegistrationWriter.Outcome> out = burst(registration("acme", 1, null), List.of(registration("acme", 2, null)));
        String a = out.get(0).node().id();
        java.net.InetAddress addressA = out.get(0).lease().ipv4();
        java.net.InetAddress addressB = out.get(1).lease().ipv4();

        assertEquals(RelayState.Refusal.KEY_CHANGED, writer.submit(signIn("acme", 5, a, 9)).get(10, TimeUnit.SECONDS).refusal(),
                "a token naming a key the node no longer has");
        assertEquals(RelayState.Refusal.KEY_TAKEN, writer.submit(signIn("acme", 2, a, 1)).get(10, TimeUnit.SECONDS).refusal(),
                "a rotation onto another node's key");
        assertEquals(RelayState.Refusal.NODE_REMOVED, writer.submit(signIn("acme", 6, "gone", 6)).get(10, TimeUnit.SECONDS).refusal());
        assertEquals(java.util.Optional.of(addressA), address("acme", 1));
        assertEquals(java.util.Optional.of(addressB), address("acme", 2));
        assertEquals(2, ipam.leases("acme").size(), "no lease made for a refused registration is left: " + ipam.leases("acme"));

        // A sign-in under the old key and a rotation, together: whichever is judged first, the node
        // ends under its new key with its address, and no lease is left under the old one.
        CompletableFuture<RegistrationWriter.Outcome> plain = writer.submit(signIn("acme", 1, a, 1));
        CompletableFuture<RegistrationWriter.Outcome> rotation = writer.submit(signIn("acme", 3, a, 1));
        assertNull(rotation.get(10, TimeUnit.SECONDS).refusal());
        RegistrationWriter.Outcome first = plain.get(10, TimeUnit.SECONDS);
        assertTrue(first.refusal() == null || first.refusal() == RelayState.Refusal.KEY_CHANGED, String.valueOf(first.refusal()));
        assertEquals(key(3), state.node(a).orElseThrow().key());
        assertEquals(java.util.Optional.of(addressA), address("acme", 3));
        assertEquals(java.util.Optional.empty(), address("acme", 1));
        assertEquals(2, ipam.leases("acme").size(), String.valueOf(ipam.leases("acme")));
    }

    private static RelayState.Registration registration(String tenant, int key, String ownNodeId) {
        byte[] b = new byte[32];
        b[0] = (byte) key;
        b[31] = 7;
        Instant now = Instant.now();
        return new RelayState.Registration(tenant, Base64.getEncoder().encodeToString(b), "host-" + key, "linux/amd64",
                List.of("192.0.2.1:51820"), ownNodeId, ownNodeId == null ? null : Base64.getEncoder().encodeToString(b), now,
                now.plusSeconds(3600), RelayState.Identity.NONE);
    }

    /** Submits the first alone and holds its flush; the rest queue behind it and form the next burst. */
    private List<RegistrationWriter.Outcome> burst(RelayState.Registration first, List<RelayState.Registration> rest)
            throws Exception {
        CompletableFuture<RegistrationWriter.Outcome> head = writer.submit(first);
        assertTrue(firstFlushBegun.await(10, TimeUnit.SECONDS));
        List<CompletableFuture<RegistrationWriter.Outcome>> tail = new ArrayList<>();
        for (RelayState.Registration r : rest) {
            tail.add(writer.submit(r));
        }
        release.countDown();
        List<RegistrationWriter.Outcome> out = new ArrayList<>();
        out.add(head.get(10, TimeUnit.SECONDS));
        for (CompletableFuture<RegistrationWriter.Outcome> f : tail) {
            out.add(f.get(10, TimeUnit.SECONDS));
        }
        return out;
    }

    /** A sign-in with a tenant credential under a key told apart by two bytes (up to 65,536 keys). */
    private static RelayState.Registration many(String tenant, int n) {
        byte[] b = new byte[32];
        b[0] = (byte) n;
        b[1] = (byte) (n >> 8);
        b[31] = 9;
        Instant now = Instant.now();
        return new RelayState.Registration(tenant, Base64.getEncoder().encodeToString(b), "host-" + n, "linux/amd64",
                List.of("192.0.2.1:51820"), null, null, now, now.plusSeconds(3600), RelayState.Identity.NONE);
    }

    /**
     * A tenant with a backlog of three bursts' worth delays another tenant's registration by one
     * burst at most: the bursts take from the tenants in turn. With one queue for all, the quiet
     * tenant's registration was written last, after the whole backlog.
     */
    @Test
    void aTenantsBacklogDelaysAnotherTenantByOneBurstAtMost() throws Exception {
        open(18);
        CompletableFuture<RegistrationWriter.Outcome> head = writer.submit(many("flood", 0));
        assertTrue(firstFlushBegun.await(10, TimeUnit.SECONDS));
        int backlog = 3 * RegistrationWriter.MAX_BURST;
        List<CompletableFuture<RegistrationWriter.Outcome>> flood = new ArrayList<>();
        for (int i = 1; i <= backlog; i++) {
            flood.add(writer.submit(many("flood", i)));
        }
        CompletableFuture<RegistrationWriter.Outcome> quiet = writer.submit(many("quiet", 1));
        AtomicInteger floodDoneBeforeQuiet = new AtomicInteger(-1);
        quiet.thenRun(() -> floodDoneBeforeQuiet.set((int) flood.stream().filter(CompletableFuture::isDone).count()));
        release.countDown();
        assertNotNull(head.get(10, TimeUnit.SECONDS).node());
        assertNotNull(quiet.get(20, TimeUnit.SECONDS).node());
        for (CompletableFuture<RegistrationWriter.Outcome> f : flood) {
            assertNotNull(f.get(20, TimeUnit.SECONDS).node());
        }
        assertTrue(floodDoneBeforeQuiet.get() >= 0 && floodDoneBeforeQuiet.get() < RegistrationWriter.MAX_BURST,
                floodDoneBeforeQuiet.get() + " of the backlog's " + backlog + " were written before the quiet tenant's one");
    }

    /**
     * More tenants waiting than a burst holds: the next burst begins where the last one stopped, so
     * the last tenant in line is written in the second burst after the held one, not behind many.
     */
    @Test
    void withMoreTenantsThanABurstHoldsEachIsServedWithinTwoBursts() throws Exception {
        open(24);
        CompletableFuture<RegistrationWriter.Outcome> head = writer.submit(many("t0", 0));
        assertTrue(firstFlushBegun.await(10, TimeUnit.SECONDS));
        int tenants = RegistrationWriter.MAX_BURST + 44;
        List<CompletableFuture<RegistrationWriter.Outcome>> all = new ArrayList<>();
        for (int round = 0; round < 3; round++) {
            for (int t = 1; t <= tenants; t++) {
                all.add(writer.submit(many("t" + t, round)));
            }
        }
        CompletableFuture<RegistrationWriter.Outcome> lastInLine = all.get(tenants - 1);
        AtomicInteger doneBeforeIt = new AtomicInteger(-1);
        lastInLine.thenRun(() -> doneBeforeIt.set((int) all.stream().filter(CompletableFuture::isDone).count()));
        release.countDown();
        assertNotNull(head.get(10, TimeUnit.SECONDS).node());
        for (CompletableFuture<RegistrationWriter.Outcome> f : all) {
            assertNotNull(f.get(30, TimeUnit.SECONDS).node());
        }
        assertTrue(doneBeforeIt.get() <= 2 * RegistrationWriter.MAX_BURST,
                doneBeforeIt.get() + " written before the first registration of the last of " + tenants + " tenants");
    }

    /** An eighth of the bound is kept from any one tenant: another tenant still finds room. */
    @Test
    void oneTenantCannotFillTheQueue() throws Exception {
        open(18, 16);
        writer.submit(many("flood", 0));
        assertTrue(firstFlushBegun.await(10, TimeUnit.SECONDS)); // taken by the writer, held in its flush
        for (int i = 1; i <= 14; i++) {
            writer.submit(many("flood", i));
        }
        assertThrowsQueueFull(() -> writer.submit(many("flood", 15)));
        for (int i = 1; i <= 2; i++) {
            writer.submit(many("quiet", i));
        }
        assertThrowsQueueFull(() -> writer.submit(many("third", 1))); // the whole bound is taken
        release.countDown();
    }

    private static void assertThrowsQueueFull(Runnable submit) {
        try {
            submit.run();
        } catch (RegistrationWriter.QueueFull expected) {
            return;
        }
        throw new AssertionError("queued beyond its bound");
    }

    @Test
    void aBurstIsWrittenOnceAndEachGetsItsOwnAnswer() throws Exception {
        RelayState state = open(18);
        List<RegistrationWriter.Outcome> out = burst(registration("acme", 1, null), List.of(
                registration("acme", 2, null),
                registration("acme", 2, null), // the same key again with a tenant credential: taken
                registration("acme", 3, "no-such-node"), // a node token whose node is gone
                registration("other", 2, null))); // the same key in another tenant is another node
        assertEquals(2, flushes.get(), "one flush for the first, one for the burst of four");

        RegistrationWriter.Outcome one = out.get(0);
        RegistrationWriter.Outcome two = out.get(1);
        assertNotNull(one.node());
        assertNotNull(two.node());
        assertNotEquals(one.lease().ipv4(), two.lease().ipv4());
        assertNotNull(two.refreshToken());
        assertEquals(RelayState.Refusal.KEY_TAKEN, out.get(2).refusal());
        assertNull(out.get(2).node());
        assertEquals(RelayState.Refusal.NODE_REMOVED, out.get(3).refusal());
        assertNotNull(out.get(4).node());
        assertNotEquals(two.node().id(), out.get(4).node().id());

        assertEquals(2, state.nodes("acme").size());
        assertEquals(1, state.nodes("other").size());
        // The refresh tokens were kept: each is good once.
        assertEquals(two.node().id(), state.refreshTokens().use(two.refreshToken(), Instant.now(), n -> { }).orElseThrow());

        // The node signs in again with its own token: same node, same address, a new refresh token.
        RegistrationWriter.Outcome again = writer.submit(registration("acme", 2, two.node().id())).get(10, TimeUnit.SECONDS);
        assertEquals(two.node().id(), again.node().id());
        assertEquals(two.lease(), again.lease());
        assertTrue(state.refreshTokens().use(again.refreshToken(), Instant.now(), n -> { }).isPresent());
    }

    @Test
    void aBurstTooBigForItsTenantGivesTheAddressesThatAreLeft() throws Exception {
        RelayState state = open(30); // two hosts per tenant
        List<RegistrationWriter.Outcome> out = burst(registration("tiny", 1, null), List.of(
                registration("tiny", 2, null),
                registration("tiny", 3, null)));
        assertNotNull(out.get(0).node());
        assertNotNull(out.get(1).node());
        assertNull(out.get(2).node());
        assertTrue(out.get(2).exhausted().contains("'tiny'"), out.get(2).exhausted());
        assertEquals(2, state.nodes("tiny").size(), "the node that got no address was not written");
    }

    private static IpamConfig ipamConfig(int tenantPrefixLength) {
        return new IpamConfig() {
            @Override
            public Class<? extends Annotation> annotationType() {
                return IpamConfig.class;
            }

            public String ipv4Pool() {
                return "100.64.0.0/10";
            }

            public int tenantIpv4PrefixLength() {
                return tenantPrefixLength;
            }

            public String ipv6Pool() {
                return "";
            }
        };
    }
}
