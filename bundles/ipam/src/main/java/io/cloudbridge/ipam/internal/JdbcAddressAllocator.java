package io.cloudbridge.ipam.internal;

import io.cloudbridge.api.ipam.AddressAllocator;
import io.cloudbridge.api.ipam.AddressPoolExhaustedException;
import io.cloudbridge.api.ipam.Lease;
import io.cloudbridge.api.net.IpPrefix;
import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.store.Migrations;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Pattern;
import javax.sql.DataSource;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.metatype.annotations.Designate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Overlay addresses per tenant, kept in the relay's database so that they survive restarts and so
 * that several relays sharing one database hand out each address once. Allocation runs in a
 * transaction holding the tenant's row lock ({@code SELECT ... FOR UPDATE}); it costs a few
 * indexed statements whatever the tenant's size, because the next host number is a counter and
 * released numbers wait in a free list.
 */
@Component(service = AddressAllocator.class, configurationPid = "cloudbridge.ipam")
@Designate(ocd = IpamConfig.class)
public final class JdbcAddressAllocator implements AddressAllocator {
    private static final Logger LOG = LoggerFactory.getLogger(JdbcAddressAllocator.class);
    static final String SCHEMA = "ipam";
    static final List<String> SCRIPTS = List.of("ipam/V1__leases.sql");
    private static final Pattern TENANT = Pattern.compile("[A-Za-z0-9._-]{1,128}");
    /** Lock waits that time out, deadlocks and lost insert races are worth another go. */
    private static final int ATTEMPTS = 10;

    private final DataSource dataSource;
    private final AddressPlan plan;
    /**
     * Tenants' slots as read: a tenant keeps its slot for good (no tenant row is ever deleted or
     * renumbered), so a registration's prefixes need no query.
     */
    private final java.util.concurrent.ConcurrentHashMap<String, Integer> slots = new java.util.concurrent.ConcurrentHashMap<>();

    /** What the component needs from its configuration, so tests can build one without DS. */
    record Settings(String ipv4Pool, int tenantIpv4PrefixLength, String ipv6Pool) {
        static Settings of(IpamConfig c) {
            return new Settings(c.ipv4Pool(), c.tenantIpv4PrefixLength(), c.ipv6Pool());
        }
    }

    @Activate
    public JdbcAddressAllocator(@Reference(name = "dataSource", target = "(cloudbridge.database=relay)") DataSource dataSource,
            IpamConfig config) throws SQLException {
        this(dataSource, Settings.of(config));
    }

    JdbcAddressAllocator(DataSource dataSource, Settings settings) throws SQLException {
        this.dataSource = Objects.requireNonNull(dataSource, "dataSource");
        IpPrefix ipv4Pool = IpPrefix.parse(settings.ipv4Pool().trim());
        String ipv6 = settings.ipv6Pool().trim();
        IpPrefix ipv6Pool = ipv6.isEmpty() ? null : IpPrefix.parse(ipv6);
        // Fail on a bad setting before the database records it.
        new AddressPlan(ipv4Pool, settings.tenantIpv4PrefixLength(),
                ipv6Pool == null ? AddressPlan.randomUla(new SecureRandom()) : ipv6Pool);
        Migrations.migrate(dataSource, SCHEMA, JdbcAddressAllocator.class, SCRIPTS);
        this.plan = transaction(c -> pool(c, ipv4Pool, settings.tenantIpv4PrefixLength(), ipv6Pool));
        LOG.info("address management: IPv4 {} in /{} blocks, IPv6 {} in /64s, {} tenants of {} nodes at most",
                plan.ipv4Pool(), plan.tenantIpv4PrefixLength(), plan.ipv6Pool(), plan.maxTenants(), plan.hostsPerTenant());
    }

    /**
     * The pool row: created on first use, when the IPv6 /48 is generated once and for all; read
     * afterwards. A setting that differs from the recorded one is taken while no tenant exists yet
     * and refused after, since applying it would silently move every node to other addresses.
     */
    private static AddressPlan pool(Connection c, IpPrefix ipv4Pool, int tenantLength, IpPrefix ipv6Pool) throws SQLException {
        try (PreparedStatement q = c.prepareStatement("SELECT ipv4_pool, tenant_ipv4_prefix_length, ipv6_pool, next_slot"
                + " FROM ipam_pool WHERE id = 1 FOR UPDATE");
             ResultSet r = q.executeQuery()) {
            if (!r.next()) {
                AddressPlan plan = new AddressPlan(ipv4Pool, tenantLength,
                        ipv6Pool != null ? ipv6Pool : AddressPlan.randomUla(new SecureRandom()));
                try (PreparedStatement insert = c.prepareStatement("INSERT INTO ipam_pool (id, ipv4_pool,"
                        + " tenant_ipv4_prefix_length, ipv6_pool, next_slot) VALUES (1, ?, ?, ?, 0)")) {
                    insert.setString(1, plan.ipv4Pool().toString());
                    insert.setInt(2, tenantLength);
                    insert.setString(3, plan.ipv6Pool().toString());
                    insert.executeUpdate();
                }
                if (ipv6Pool == null) {
                    LOG.info("generated the IPv6 overlay prefix {}", plan.ipv6Pool());
                }
                return plan;
            }
            IpPrefix storedV4 = IpPrefix.parse(r.getString(1));
            int storedLength = r.getInt(2);
            IpPrefix storedV6 = IpPrefix.parse(r.getString(3));
            int tenants = r.getInt(4);
            AddressPlan wanted = new AddressPlan(ipv4Pool, tenantLength, ipv6Pool != null ? ipv6Pool : storedV6);
            boolean changed = !storedV4.equals(wanted.ipv4Pool()) || storedLength != tenantLength
                    || !storedV6.equals(wanted.ipv6Pool());
            if (!changed) {
                return wanted;
            }
            if (tenants > 0) {
                throw new IllegalStateException("the address pools are fixed once tenants exist (" + tenants + " do):"
                        + " configured IPv4 " + wanted.ipv4Pool() + " in /" + tenantLength + " blocks, IPv6 "
                        + wanted.ipv6Pool() + "; the database holds IPv4 " + storedV4 + " in /" + storedLength
                        + " blocks, IPv6 " + storedV6 + ". Restore those settings.");
            }
            try (PreparedStatement update = c.prepareStatement("UPDATE ipam_pool SET ipv4_pool = ?,"
                    + " tenant_ipv4_prefix_length = ?, ipv6_pool = ? WHERE id = 1")) {
                update.setString(1, wanted.ipv4Pool().toString());
                update.setInt(2, tenantLength);
                update.setString(3, wanted.ipv6Pool().toString());
                update.executeUpdate();
            }
            return wanted;
        }
    }

    /** The IPv6 prefix tenants' /64s come from (generated once when not configured). */
    IpPrefix ipv6Pool() {
        return plan.ipv6Pool();
    }

    @Override
    public Lease allocate(String tenant, NodeKey node) throws AddressPoolExhaustedException {
        checkTenant(tenant);
        Objects.requireNonNull(node, "node");
        // The common case, a node coming back, takes no lock.
        Optional<Lease> existing = lease(tenant, node);
        if (existing.isPresent()) {
            return existing.get();
        }
        return transaction(c -> allocate(c, tenant, node));
    }

    private Lease allocate(Connection c, String tenant, NodeKey node) throws SQLException, AddressPoolExhaustedException {
        TenantRow t = lockOrCreateTenant(c, tenant);
        // Re-read under the lock: whoever held it before may have leased this very node.
        Optional<Lease> existing = lease(c, tenant, node);
        if (existing.isPresent()) {
            return existing.get();
        }
        int host;
        Integer freed = null;
        try (PreparedStatement q = c.prepareStatement(
                "SELECT host FROM ipam_free_host WHERE tenant = ? ORDER BY host FETCH FIRST 1 ROWS ONLY")) {
            q.setString(1, tenant);
            try (ResultSet r = q.executeQuery()) {
                if (r.next()) {
                    freed = r.getInt(1);
                }
            }
        }
        if (freed != null) {
            host = freed;
            try (PreparedStatement d = c.prepareStatement("DELETE FROM ipam_free_host WHERE tenant = ? AND host = ?")) {
                d.setString(1, tenant);
                d.setInt(2, host);
                d.executeUpdate();
            }
        } else {
            host = t.nextHost();
            if (host > plan.hostsPerTenant()) {
                throw new AddressPoolExhaustedException("tenant '" + tenant + "' has no free address left: its block "
                        + plan.ipv4Block(t.slot()) + " (and " + plan.ipv6Subnet(t.slot()) + ") holds "
                        + plan.hostsPerTenant() + " nodes and all are leased");
            }
            try (PreparedStatement u = c.prepareStatement("UPDATE ipam_tenant SET next_host = ? WHERE tenant = ?")) {
                u.setInt(1, host + 1);
                u.setString(2, tenant);
                u.executeUpdate();
            }
        }
        // Millisecond precision survives every database's timestamp type, so a re-read lease is equal.
        Instant granted = Instant.now().truncatedTo(ChronoUnit.MILLIS);
        try (PreparedStatement i = c.prepareStatement(
                "INSERT INTO ipam_lease (tenant, node_key, host, granted_at) VALUES (?, ?, ?, ?)")) {
            i.setString(1, tenant);
            i.setString(2, node.toBase64());
            i.setInt(3, host);
            i.setObject(4, OffsetDateTime.ofInstant(granted, ZoneOffset.UTC));
            i.executeUpdate();
        }
        return lease(tenant, node, t.slot(), host, granted);
    }

    /**
     * One transaction for a burst: the tenant's lock taken once, each statement prepared once, the
     * leases inserted as one JDBC batch and the host counter moved once.
     */
    @Override
    public List<Lease> allocateAll(String tenant, List<NodeKey> nodes) throws AddressPoolExhaustedException {
        checkTenant(tenant);
        nodes.forEach(n -> Objects.requireNonNull(n, "node"));
        if (nodes.isEmpty()) {
            return List.of();
        }
        return transaction(c -> allocateAll(c, tenant, nodes));
    }

    private List<Lease> allocateAll(Connection c, String tenant, List<NodeKey> nodes) throws SQLException, AddressPoolExhaustedException {
        TenantRow t = lockOrCreateTenant(c, tenant);
        Lease[] out = new Lease[nodes.size()];
        // Nodes without a lease, each once (a key may come twice in a burst), in the order given.
        java.util.LinkedHashMap<NodeKey, List<Integer>> missing = new java.util.LinkedHashMap<>();
        try (PreparedStatement q = c.prepareStatement("SELECT host, granted_at FROM ipam_lease WHERE tenant = ? AND node_key = ?")) {
            for (int i = 0; i < out.length; i++) {
                NodeKey node = nodes.get(i);
                List<Integer> waiting = missing.get(node);
                if (waiting != null) {
                    waiting.add(i);
                    continue;
                }
                q.setString(1, tenant);
                q.setString(2, node.toBase64());
                try (ResultSet r = q.executeQuery()) {
                    if (r.next()) {
                        out[i] = lease(tenant, node, t.slot(), r.getInt(1), granted(r, 2));
                    } else {
                        missing.computeIfAbsent(node, k -> new ArrayList<>()).add(i);
                    }
                }
            }
        }
        if (missing.isEmpty()) {
            return List.of(out);
        }
        // Released hosts first, lowest first, then the counter.
        List<Integer> hosts = new ArrayList<>(missing.size());
        try (PreparedStatement q = c.prepareStatement("SELECT host FROM ipam_free_host WHERE tenant = ? ORDER BY host")) {
            q.setMaxRows(missing.size());
            q.setString(1, tenant);
            try (ResultSet r = q.executeQuery()) {
                while (r.next()) {
                    hosts.add(r.getInt(1));
                }
            }
        }
        if (!hosts.isEmpty()) {
            try (PreparedStatement d = c.prepareStatement("DELETE FROM ipam_free_host WHERE tenant = ? AND host = ?")) {
                for (int host : hosts) {
                    d.setString(1, tenant);
                    d.setInt(2, host);
                    d.addBatch();
                }
                d.executeBatch();
            }
        }
        int next = t.nextHost();
        while (hosts.size() < missing.size()) {
            if (next > plan.hostsPerTenant()) {
                throw new AddressPoolExhaustedException("tenant '" + tenant + "' has no free address left: its block "
                        + plan.ipv4Block(t.slot()) + " (and " + plan.ipv6Subnet(t.slot()) + ") holds "
                        + plan.hostsPerTenant() + " nodes and all are leased");
            }
            hosts.add(next++);
        }
        if (next != t.nextHost()) {
            try (PreparedStatement u = c.prepareStatement("UPDATE ipam_tenant SET next_host = ? WHERE tenant = ?")) {
                u.setInt(1, next);
                u.setString(2, tenant);
                u.executeUpdate();
            }
        }
        Instant granted = Instant.now().truncatedTo(ChronoUnit.MILLIS);
        OffsetDateTime grantedAt = OffsetDateTime.ofInstant(granted, ZoneOffset.UTC);
        try (PreparedStatement i = c.prepareStatement(
                "INSERT INTO ipam_lease (tenant, node_key, host, granted_at) VALUES (?, ?, ?, ?)")) {
            int h = 0;
            for (var e : missing.entrySet()) {
                int host = hosts.get(h++);
                i.setString(1, tenant);
                i.setString(2, e.getKey().toBase64());
                i.setInt(3, host);
                i.setObject(4, grantedAt);
                i.addBatch();
                Lease lease = lease(tenant, e.getKey(), t.slot(), host, granted);
                for (int index : e.getValue()) {
                    out[index] = lease;
                }
            }
            i.executeBatch();
        }
        return List.of(out);
    }

    private record TenantRow(int slot, int nextHost) {
    }

    private static Optional<TenantRow> lockTenant(Connection c, String tenant) throws SQLException {
        try (PreparedStatement q = c.prepareStatement("SELECT slot, next_host FROM ipam_tenant WHERE tenant = ? FOR UPDATE")) {
            q.setString(1, tenant);
            try (ResultSet r = q.executeQuery()) {
                return r.next() ? Optional.of(new TenantRow(r.getInt(1), r.getInt(2))) : Optional.empty();
            }
        }
    }

    /**
     * Locks the tenant's row, creating it in the next slot first if need be. Creation holds the
     * pool row's lock, so two relays meeting a new tenant at once give it one slot, and no slot
     * goes to two tenants.
     */
    private TenantRow lockOrCreateTenant(Connection c, String tenant) throws SQLException, AddressPoolExhaustedException {
        Optional<TenantRow> row = lockTenant(c, tenant);
        if (row.isPresent()) {
            return row.get();
        }
        int slot;
        try (PreparedStatement q = c.prepareStatement("SELECT next_slot FROM ipam_pool WHERE id = 1 FOR UPDATE");
             ResultSet r = q.executeQuery()) {
            if (!r.next()) {
                throw new SQLException("the ipam_pool row is missing");
            }
            slot = r.getInt(1);
        }
        row = lockTenant(c, tenant);
        if (row.isPresent()) {
            return row.get();
        }
        if (slot >= plan.maxTenants()) {
            throw new AddressPoolExhaustedException("no address block left for tenant '" + tenant + "': the pools "
                    + plan.ipv4Pool() + " (in /" + plan.tenantIpv4PrefixLength() + " blocks) and " + plan.ipv6Pool()
                    + " (in /64s) hold " + plan.maxTenants() + " tenants and all are taken");
        }
        try (PreparedStatement i = c.prepareStatement(
                "INSERT INTO ipam_tenant (tenant, slot, next_host, created_at) VALUES (?, ?, 1, ?)")) {
            i.setString(1, tenant);
            i.setInt(2, slot);
            i.setObject(3, OffsetDateTime.now(ZoneOffset.UTC));
            i.executeUpdate();
        }
        try (PreparedStatement u = c.prepareStatement("UPDATE ipam_pool SET next_slot = ? WHERE id = 1")) {
            u.setInt(1, slot + 1);
            u.executeUpdate();
        }
        LOG.info("tenant '{}' gets {} and {}", tenant, plan.ipv4Block(slot), plan.ipv6Subnet(slot));
        return new TenantRow(slot, 1);
    }

    @Override
    public Optional<Lease> lease(String tenant, NodeKey node) {
        checkTenant(tenant);
        Objects.requireNonNull(node, "node");
        return read(c -> lease(c, tenant, node));
    }

    private Optional<Lease> lease(Connection c, String tenant, NodeKey node) throws SQLException {
        try (PreparedStatement q = c.prepareStatement("SELECT t.slot, l.host, l.granted_at FROM ipam_lease l"
                + " JOIN ipam_tenant t ON t.tenant = l.tenant WHERE l.tenant = ? AND l.node_key = ?")) {
            q.setString(1, tenant);
            q.setString(2, node.toBase64());
            try (ResultSet r = q.executeQuery()) {
                return r.next() ? Optional.of(lease(tenant, node, r.getInt(1), r.getInt(2), granted(r, 3))) : Optional.empty();
            }
        }
    }

    @Override
    public List<Lease> leases(String tenant) {
        checkTenant(tenant);
        return read(c -> {
            List<Lease> out = new ArrayList<>();
            try (PreparedStatement q = c.prepareStatement("SELECT t.slot, l.host, l.granted_at, l.node_key FROM ipam_lease l"
                    + " JOIN ipam_tenant t ON t.tenant = l.tenant WHERE l.tenant = ? ORDER BY l.host")) {
                q.setString(1, tenant);
                try (ResultSet r = q.executeQuery()) {
                    while (r.next()) {
                        out.add(lease(tenant, NodeKey.parse(r.getString(4)), r.getInt(1), r.getInt(2), granted(r, 3)));
                    }
                }
            }
            return List.copyOf(out);
        });
    }

    @Override
    public List<IpPrefix> prefixes(String tenant) {
        checkTenant(tenant);
        Integer slot = slots.get(tenant);
        if (slot == null) {
            slot = read(c -> {
                try (PreparedStatement q = c.prepareStatement("SELECT slot FROM ipam_tenant WHERE tenant = ?")) {
                    q.setString(1, tenant);
                    try (ResultSet r = q.executeQuery()) {
                        return r.next() ? r.getInt(1) : null;
                    }
                }
            });
            if (slot == null) {
                return List.of();
            }
            slots.put(tenant, slot);
        }
        return List.of(plan.ipv4Block(slot), plan.ipv6Subnet(slot));
    }

    @Override
    public boolean release(String tenant, NodeKey node) {
        checkTenant(tenant);
        Objects.requireNonNull(node, "node");
        return transaction(c -> {
            // The tenant's lock keeps an allocation from taking the host before it is in the free list.
            if (lockTenant(c, tenant).isEmpty()) {
                return false;
            }
            Integer host = null;
            try (PreparedStatement q = c.prepareStatement("SELECT host FROM ipam_lease WHERE tenant = ? AND node_key = ?")) {
                q.setString(1, tenant);
                q.setString(2, node.toBase64());
                try (ResultSet r = q.executeQuery()) {
                    if (r.next()) {
                        host = r.getInt(1);
                    }
                }
            }
            if (host == null) {
                return false;
            }
            try (PreparedStatement d = c.prepareStatement("DELETE FROM ipam_lease WHERE tenant = ? AND node_key = ?")) {
                d.setString(1, tenant);
                d.setString(2, node.toBase64());
                d.executeUpdate();
            }
            try (PreparedStatement i = c.prepareStatement("INSERT INTO ipam_free_host (tenant, host) VALUES (?, ?)")) {
                i.setString(1, tenant);
                i.setInt(2, host);
                i.executeUpdate();
            }
            return true;
        });
    }

    @Override
    public boolean rekey(String tenant, NodeKey from, NodeKey to) {
        checkTenant(tenant);
        Objects.requireNonNull(from, "from");
        Objects.requireNonNull(to, "to");
        if (from.equals(to)) {
            return false;
        }
        return transaction(c -> {
            if (lockTenant(c, tenant).isEmpty()) {
                return false;
            }
            try (PreparedStatement q = c.prepareStatement("SELECT 1 FROM ipam_lease WHERE tenant = ? AND node_key = ?")) {
                q.setString(1, tenant);
                q.setString(2, to.toBase64());
                try (ResultSet r = q.executeQuery()) {
                    if (r.next()) {
                        return false; // the new key has a lease of its own: never merge two nodes' addresses
                    }
                }
            }
            try (PreparedStatement u = c.prepareStatement("UPDATE ipam_lease SET node_key = ? WHERE tenant = ? AND node_key = ?")) {
                u.setString(1, to.toBase64());
                u.setString(2, tenant);
                u.setString(3, from.toBase64());
                return u.executeUpdate() == 1;
            }
        });
    }

    private Lease lease(String tenant, NodeKey node, int slot, int host, Instant granted) {
        return new Lease(tenant, node, plan.ipv4(slot, host), plan.ipv6(slot, host), granted);
    }

    private static Instant granted(ResultSet r, int column) throws SQLException {
        return r.getObject(column, OffsetDateTime.class).toInstant();
    }

    static void checkTenant(String tenant) {
        if (tenant == null || !TENANT.matcher(tenant).matches()) {
            throw new IllegalArgumentException("a tenant name is 1 to 128 characters of A-Z, a-z, 0-9, '.', '_' and '-': "
                    + (tenant == null ? "null" : "'" + tenant + "'"));
        }
    }

    @FunctionalInterface
    private interface Work<T, X extends Exception> {
        T run(Connection c) throws SQLException, X;
    }

    /** A read with no lock: one statement, so autocommit's snapshot is consistent enough. */
    private <T> T read(Work<T, RuntimeException> work) {
        try (Connection c = dataSource.getConnection()) {
            return work.run(c);
        } catch (SQLException e) {
            throw new IllegalStateException("address management cannot read the database: " + e.getMessage(), e);
        }
    }

    /**
     * Runs {@code work} in a transaction, again when it loses a lock wait or an insert race to
     * another transaction; those roll back whole, so a retry starts clean.
     */
    private <T, X extends Exception> T transaction(Work<T, X> work) throws X {
        for (int attempt = 1; ; attempt++) {
            try (Connection c = dataSource.getConnection()) {
                boolean autoCommit = c.getAutoCommit();
                c.setAutoCommit(false);
                try {
                    T result = work.run(c);
                    c.commit();
                    return result;
                } catch (Exception e) {
                    try {
                        c.rollback();
                    } catch (SQLException suppressed) {
                        e.addSuppressed(suppressed);
                    }
                    throw e;
                } finally {
                    // Pooled connections go back as they came.
                    c.setAutoCommit(autoCommit);
                }
            } catch (SQLException e) {
                if (attempt < ATTEMPTS && retryable(e)) {
                    LOG.debug("address management transaction attempt {} failed, retrying: {}", attempt, e.toString());
                    continue;
                }
                throw new IllegalStateException("address management cannot update the database: " + e.getMessage(), e);
            }
        }
    }

    /**
     * SQLSTATE class 40 (serialization failure, deadlock), H2's lock timeout (HYT00), PostgreSQL's
     * lock_not_available (55P03), and a unique violation (23505) from a concurrent first insert.
     */
    static boolean retryable(SQLException e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SQLException s && s.getSQLState() != null) {
                String state = s.getSQLState();
                if (state.startsWith("40") || state.equals("HYT00") || state.equals("55P03") || state.equals("23505")) {
                    return true;
                }
            }
        }
        return false;
    }
}
