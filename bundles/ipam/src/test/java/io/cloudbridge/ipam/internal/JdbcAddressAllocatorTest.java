package io.cloudbridge.ipam.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.api.ipam.AddressPoolExhaustedException;
import io.cloudbridge.api.ipam.Lease;
import io.cloudbridge.api.net.IpPrefix;
import io.cloudbridge.api.net.NodeKey;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import io.cloudbridge.testing.TestDatabase;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JdbcAddressAllocatorTest {
    private static final JdbcAddressAllocator.Settings DEFAULTS =
            new JdbcAddressAllocator.Settings("100.64.0.0/10", 18, "");

    @TempDir
    Path dir;
    private TestDatabase database;
    private final List<TestDatabase.Pool> pools = new ArrayList<>();

    /** The engine these tests run on: embedded H2 here, PostgreSQL in {@link JdbcAddressAllocatorOnPostgresTest}. */
    TestDatabase database(Path folder) {
        return TestDatabase.h2(folder);
    }

    @AfterEach
    void closePools() {
        pools.forEach(TestDatabase.Pool::close);
    }

    /** A new pool on the test's database (a relay restarted, or another relay, opens one). */
    private DataSource open() {
        if (database == null) {
            database = database(dir);
        }
        TestDatabase.Pool pool = database.open();
        pools.add(pool);
        return pool.dataSource();
    }

    private void close(DataSource dataSource) {
        pools.stream().filter(p -> p.dataSource() == dataSource).forEach(TestDatabase.Pool::close);
    }

    private static NodeKey key(int n) {
        byte[] b = new byte[NodeKey.LENGTH];
        ByteBuffer.wrap(b).putInt(n).putInt(0x5eed);
        return NodeKey.of(b);
    }

    @Test
    void theSameKeyGetsTheSameLeaseAlsoAfterReopening() throws Exception {
        DataSource pool = open();
        JdbcAddressAllocator ipam = new JdbcAddressAllocator(pool, DEFAULTS);
        Lease first = ipam.allocate("acme", key(1));
        Lease other = ipam.allocate("acme", key(2));
        assertEquals(first, ipam.allocate("acme", key(1)));
        assertEquals(Optional.of(first), ipam.lease("acme", key(1)));
        assertEquals(InetAddress.getByName("100.64.0.1"), first.ipv4());
        assertNotEquals(first.ipv4(), other.ipv4());
        close(pool);

        JdbcAddressAllocator again = new JdbcAddressAllocator(open(), DEFAULTS);
        assertEquals(first, again.allocate("acme", key(1)));
        assertEquals(other, again.lease("acme", key(2)).orElseThrow());
        assertEquals(List.of(first, other), again.leases("acme"));
        assertEquals(InetAddress.getByName("100.64.0.3"), again.allocate("acme", key(3)).ipv4());
    }

    /** A node that rotates its key keeps its addresses; a key another node holds takes nothing from it. */
    @Test
    void aRotatedKeyKeepsTheLeaseAndNeverTakesAnothersAddress() throws Exception {
        JdbcAddressAllocator ipam = new JdbcAddressAllocator(open(), DEFAULTS);
        Lease before = ipam.allocate("acme", key(1));
        Lease neighbour = ipam.allocate("acme", key(2));
        assertTrue(ipam.rekey("acme", key(1), key(3)));
        assertEquals(Optional.empty(), ipam.lease("acme", key(1)));
        Lease after = ipam.allocate("acme", key(3));
        assertEquals(before.ipv4(), after.ipv4());
        assertEquals(before.ipv6(), after.ipv6());
        assertEquals(2, ipam.leases("acme").size(), "moved, not copied");
        assertFalse(ipam.rekey("acme", key(3), key(2)), "onto a key with a lease of its own");
        assertEquals(neighbour, ipam.lease("acme", key(2)).orElseThrow());
        assertEquals(after, ipam.lease("acme", key(3)).orElseThrow());
        assertFalse(ipam.rekey("acme", key(9), key(10)), "no lease to move");
        assertFalse(ipam.rekey("nobody", key(3), key(11)), "no such tenant");
    }

    @Test
    void tenantsGetSeparateBlocksAndSubnets() throws Exception {
        JdbcAddressAllocator ipam = new JdbcAddressAllocator(open(), DEFAULTS);
        Lease a = ipam.allocate("tenant-a", key(1));
        Lease b = ipam.allocate("tenant-b", key(1));
        IpPrefix blockA = new IpPrefix(a.ipv4(), 18);
        IpPrefix blockB = new IpPrefix(b.ipv4(), 18);
        assertEquals(IpPrefix.parse("100.64.0.0/18"), blockA);
        assertEquals(IpPrefix.parse("100.64.64.0/18"), blockB);
        assertFalse(blockA.contains(b.ipv4()));
        assertFalse(blockB.contains(a.ipv4()));
        IpPrefix subnetA = new IpPrefix(a.ipv6(), 64);
        IpPrefix subnetB = new IpPrefix(b.ipv6(), 64);
        assertNotEquals(subnetA, subnetB);
        assertTrue(ipam.ipv6Pool().contains(a.ipv6()) && ipam.ipv6Pool().contains(b.ipv6()));
        assertEquals(1, a.ipv6().getAddress()[15]);
        assertEquals(List.of(a), ipam.leases("tenant-a"));
        assertEquals(List.of(), ipam.leases("nobody"));
        assertEquals(List.of(blockB, subnetB), ipam.prefixes("tenant-b"));
        assertEquals(List.of(), ipam.prefixes("nobody"));
    }

    @Test
    void concurrentAllocationsGetDistinctAddressesInsideTheBlock() throws Exception {
        JdbcAddressAllocator ipam = new JdbcAddressAllocator(open(), DEFAULTS);
        ExecutorService threads = Executors.newFixedThreadPool(8);
        List<Future<Lease>> futures = new ArrayList<>();
        try {
            for (int i = 0; i < 1000; i++) {
                NodeKey node = key(i);
                futures.add(threads.submit(() -> ipam.allocate("busy", node)));
            }
            Set<InetAddress> v4 = new HashSet<>();
            Set<InetAddress> v6 = new HashSet<>();
            for (Future<Lease> f : futures) {
                Lease lease = f.get();
                v4.add(lease.ipv4());
                v6.add(lease.ipv6());
            }
            assertEquals(1000, v4.size());
            assertEquals(1000, v6.size());
            IpPrefix block = IpPrefix.parse("100.64.0.0/18");
            IpPrefix subnet = new IpPrefix(v6.iterator().next(), 64);
            assertTrue(v4.stream().allMatch(block::contains));
            assertTrue(v6.stream().allMatch(subnet::contains));
            assertEquals(1000, ipam.leases("busy").size());
        } finally {
            threads.shutdownNow();
        }
    }

    @Test
    void aReleasedHostIsReused() throws Exception {
        JdbcAddressAllocator ipam = new JdbcAddressAllocator(open(), DEFAULTS);
        ipam.allocate("acme", key(1));
        Lease second = ipam.allocate("acme", key(2));
        ipam.allocate("acme", key(3));
        assertTrue(ipam.release("acme", key(2)));
        assertFalse(ipam.release("acme", key(2)));
        assertFalse(ipam.release("unknown", key(2)));
        assertEquals(Optional.empty(), ipam.lease("acme", key(2)));
        Lease reused = ipam.allocate("acme", key(4));
        assertEquals(second.ipv4(), reused.ipv4());
        assertEquals(second.ipv6(), reused.ipv6());
        assertEquals(InetAddress.getByName("100.64.0.4"), ipam.allocate("acme", key(5)).ipv4());
    }

    @Test
    void aFullTenantBlockIsRefusedByName() throws Exception {
        JdbcAddressAllocator ipam = new JdbcAddressAllocator(open(), new JdbcAddressAllocator.Settings("100.64.0.0/10", 30, ""));
        assertEquals(InetAddress.getByName("100.64.0.1"), ipam.allocate("tiny", key(1)).ipv4());
        assertEquals(InetAddress.getByName("100.64.0.2"), ipam.allocate("tiny", key(2)).ipv4());
        AddressPoolExhaustedException e = assertThrows(AddressPoolExhaustedException.class, () -> ipam.allocate("tiny", key(3)));
        assertTrue(e.getMessage().contains("'tiny'") && e.getMessage().contains("100.64.0.0/30"), e.getMessage());
        // Still exhausted, and nothing half-done: existing leases are intact.
        assertThrows(AddressPoolExhaustedException.class, () -> ipam.allocate("tiny", key(3)));
        assertEquals(2, ipam.leases("tiny").size());
        assertEquals(InetAddress.getByName("100.64.0.5"), ipam.allocate("other", key(1)).ipv4());
    }

    @Test
    void aBurstGetsWhatOneByOneWouldGive() throws Exception {
        JdbcAddressAllocator ipam = new JdbcAddressAllocator(open(), DEFAULTS);
        Lease one = ipam.allocate("acme", key(1));
        ipam.allocate("acme", key(2));
        ipam.allocate("acme", key(3));
        assertTrue(ipam.release("acme", key(2)));
        // A node that has a lease, a new node twice, released host 2 reused first, then the counter.
        List<Lease> burst = ipam.allocateAll("acme", List.of(key(1), key(10), key(11), key(10), key(12)));
        assertEquals(one, burst.get(0));
        assertEquals(burst.get(1), burst.get(3));
        assertEquals(InetAddress.getByName("100.64.0.2"), burst.get(1).ipv4());
        assertEquals(InetAddress.getByName("100.64.0.4"), burst.get(2).ipv4());
        assertEquals(InetAddress.getByName("100.64.0.5"), burst.get(4).ipv4());
        for (int i : new int[] {1, 10, 11, 12}) {
            assertEquals(ipam.lease("acme", key(i)).orElseThrow(), ipam.allocate("acme", key(i)));
        }
        assertEquals(5, ipam.leases("acme").size());
        assertEquals(InetAddress.getByName("100.64.0.6"), ipam.allocate("acme", key(13)).ipv4());
        // A first burst creates the tenant.
        assertEquals(InetAddress.getByName("100.64.64.1"), ipam.allocateAll("fresh", List.of(key(1))).get(0).ipv4());
        assertEquals(List.of(), ipam.allocateAll("acme", List.of()));
    }

    @Test
    void aBurstThatDoesNotFitGrantsNothing() throws Exception {
        JdbcAddressAllocator ipam = new JdbcAddressAllocator(open(), new JdbcAddressAllocator.Settings("100.64.0.0/10", 30, ""));
        ipam.allocate("tiny", key(1));
        AddressPoolExhaustedException e = assertThrows(AddressPoolExhaustedException.class,
                () -> ipam.allocateAll("tiny", List.of(key(2), key(3))));
        assertTrue(e.getMessage().contains("'tiny'"), e.getMessage());
        assertEquals(1, ipam.leases("tiny").size());
        // One by one, the one that fits still does.
        assertEquals(InetAddress.getByName("100.64.0.2"), ipam.allocate("tiny", key(2)).ipv4());
    }

    @Test
    void aFullPoolRefusesANewTenant() throws Exception {
        JdbcAddressAllocator ipam = new JdbcAddressAllocator(open(), new JdbcAddressAllocator.Settings("10.0.0.0/29", 30, ""));
        ipam.allocate("one", key(1));
        ipam.allocate("two", key(1));
        AddressPoolExhaustedException e = assertThrows(AddressPoolExhaustedException.class, () -> ipam.allocate("three", key(1)));
        assertTrue(e.getMessage().contains("'three'") && e.getMessage().contains("10.0.0.0/29"), e.getMessage());
    }

    @Test
    void theGeneratedUlaIsAFdSlash48AndSurvivesReopening() throws Exception {
        DataSource pool = open();
        JdbcAddressAllocator ipam = new JdbcAddressAllocator(pool, DEFAULTS);
        IpPrefix ula = ipam.ipv6Pool();
        assertEquals(48, ula.length());
        assertTrue(IpPrefix.parse("fd00::/8").contains(ula.address()), ula.toString());
        Lease lease = ipam.allocate("acme", key(1));
        assertTrue(ula.contains(lease.ipv6()));
        close(pool);

        JdbcAddressAllocator again = new JdbcAddressAllocator(open(), DEFAULTS);
        assertEquals(ula, again.ipv6Pool());
        assertEquals(lease, again.allocate("acme", key(1)));
    }

    @Test
    void theSubnetIdIsTheTenantSlot() throws Exception {
        JdbcAddressAllocator ipam = new JdbcAddressAllocator(open(),
                new JdbcAddressAllocator.Settings("100.64.0.0/10", 18, "fd12:3456:789a::/48"));
        ipam.allocate("first", key(1));
        Lease second = ipam.allocate("second", key(7));
        assertEquals(InetAddress.getByName("fd12:3456:789a:1::1"), second.ipv6());
    }

    @Test
    void thePoolsCannotChangeUnderExistingTenants() throws Exception {
        DataSource pool = open();
        new JdbcAddressAllocator(pool, DEFAULTS).allocate("acme", key(1));
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> new JdbcAddressAllocator(pool, new JdbcAddressAllocator.Settings("10.0.0.0/8", 18, "")));
        assertTrue(e.getMessage().contains("100.64.0.0/10"), e.getMessage());
    }

    @Test
    void badTenantNamesAreRefused() throws Exception {
        JdbcAddressAllocator ipam = new JdbcAddressAllocator(open(), DEFAULTS);
        for (String bad : new String[] {"", "a b", "x/y", "é", "a;DROP", "a".repeat(129), null}) {
            assertThrows(IllegalArgumentException.class, () -> ipam.allocate(bad, key(1)), String.valueOf(bad));
            assertThrows(IllegalArgumentException.class, () -> ipam.leases(bad), String.valueOf(bad));
        }
        ipam.allocate("a".repeat(128), key(1));
        ipam.allocate("Tenant_1.prod-eu", key(1));
    }

    @Test
    void tenThousandAllocationsInOneTenant() throws Exception {
        JdbcAddressAllocator ipam = new JdbcAddressAllocator(open(), DEFAULTS);
        Lease last = null;
        for (int i = 0; i < 10_000; i++) {
            last = ipam.allocate("big", key(i));
        }
        // Host 10,000 in 100.64.0.0/18 is 100.64.39.16.
        assertEquals(InetAddress.getByName("100.64.39.16"), last.ipv4());
        assertEquals(10_000, ipam.leases("big").size());
    }
}
