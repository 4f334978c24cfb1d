package io.cloudbridge.control.relay.internal;

import io.cloudbridge.store.Migrations;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import javax.sql.DataSource;

/**
 * The relay's records in its database: nodes and pre-auth keys here; refresh tokens, token-signing
 * keys and policy versions in classes of their own on the same database (this class migrates its
 * schema). Secrets handed out (pre-auth keys, refresh tokens) are kept only as SHA-256 hashes.
 */
final class RelayState {
    static final String SCHEMA = "relay";
    private static final SecureRandom RANDOM = new SecureRandom();

    private final DataSource db;
    /**
     * Held while a burst of registrations or a member's key reservation is written: each checks
     * the other's table and then writes its own, which must not interleave (two transactions
     * could each miss the other's uncommitted row). Within this relay only: relays sharing a
     * database each reserve their own gateways' keys.
     */
    private final Object keyOwnership = new Object();

    /**
     * Reusable pre-auth keys found good, by key id, so that a burst of nodes signing in with one
     * key does not read it for each (a tenth of a registration's cost). Only keys that matched are
     * kept, so guessing fills nothing; an entry is trusted for a second, after which the record is
     * read again (another relay sharing the database may have revoked it); this relay's own
     * revocation drops it at once.
     */
    private final java.util.concurrent.ConcurrentHashMap<String, AcceptedKey> acceptedKeys = new java.util.concurrent.ConcurrentHashMap<>();
    private static final java.time.Duration ACCEPTED_KEY_RECHECK = java.time.Duration.ofSeconds(1);
    private static final int MAX_ACCEPTED_KEYS = 1024;

    private record AcceptedKey(String hash, String tenant, Instant expires, Instant checkedAt, List<String> tags) {
    }

    /** Every tenant's policy versions (their own table, their own class). */
    private final PolicyVersions policyVersions;
    private final RefreshTokens refreshTokens;
    private final SigningKeys signingKeys;

    /** @param secrets seals the secrets kept in the database (the fleet key's, or none) */
    RelayState(DataSource db, io.cloudbridge.store.SecretSealer secrets) throws SQLException {
        this.db = db;
        this.policyVersions = new PolicyVersions(db);
        this.refreshTokens = new RefreshTokens(db);
        this.signingKeys = new SigningKeys(db, secrets);
        Migrations.migrate(db, SCHEMA, RelayState.class, List.of("relay/V1__relay.sql", "relay/V2__refresh_token_by_node.sql",
                "relay/V3__member_keys.sql", "relay/V4__policy.sql", "relay/V5__timestamps_with_time_zone.sql"));
    }

    PolicyVersions policyVersions() {
        return policyVersions;
    }

    RefreshTokens refreshTokens() {
        return refreshTokens;
    }

    SigningKeys signingKeys() {
        return signingKeys;
    }

    /** A registered node. */
    record Node(String id, String tenant, String key, String hostname, String os, List<String> endpoints, Instant created,
            Instant lastSeen, Identity identity) {
    }

    /**
     * Who a node is, as a tenant's access policy names it: the OpenID subject that signed it in
     * (empty for a pre-auth key) with its identity provider's groups, and its tags.
     */
    record Identity(String name, String user, List<String> idpGroups, List<String> tags) {
        static final Identity NONE = new Identity("", "", List.of(), List.of());

        Identity(String user, List<String> idpGroups, List<String> tags) {
            this("", user, idpGroups, tags);
        }

        Identity {
            idpGroups = List.copyOf(idpGroups);
            tags = List.copyOf(tags);
        }
    }

    /** A pre-auth key's record; the secret itself is never stored. */
    record PreAuthKey(String id, String tenant, boolean reusable, Instant expires, Instant created, Instant used, boolean revoked,
            List<String> tags) {
    }

    /** What a presented pre-auth key turned out to be, with the tags it gives. */
    enum KeyCheck { ACCEPTED, UNKNOWN, EXPIRED, USED, REVOKED }

    record KeyVerdict(KeyCheck check, String tenant, List<String> tags) {
        KeyVerdict(KeyCheck check, String tenant) {
            this(check, tenant, List.of());
        }
    }

    static String sha256(String secret) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(secret.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    static String randomSecret() {
        byte[] b = new byte[32];
        RANDOM.nextBytes(b);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
    }

    // ---- nodes ----

    /**
     * One node's registration as the writer applies it. {@code ownNodeId} is set when the node
     * signed in with its own token: then it must still be that node, and a key other than its own
     * is its new key (rotation), which no other node of the tenant may have; otherwise the key must
     * be new to the tenant (a tenant credential does not make its holder an existing node).
     */
    record Registration(String tenant, String key, String hostname, String os, List<String> endpoints, String ownNodeId,
            String tokenKey, Instant now, Instant refreshExpires, Identity identity) {
    }

    /** What became of a registration: the node and its new refresh token, or why not. */
    record Registered(Node node, String refreshToken, Refusal refusal) {
    }

    /**
     * KEY_CHANGED: the node's key is no longer the one its token names (it rotated since);
     * KEY_RESERVED: the key is a member's inside the relay (a CONNECT-IP gateway's).
     */
    enum Refusal { KEY_TAKEN, NODE_REMOVED, KEY_CHANGED, KEY_RESERVED }

    /**
     * Writes a burst of registrations in one transaction, each statement prepared once: the node
     * (created, or updated when it signed in with its own token) and its one live refresh token.
     * Later entries see earlier ones, so a key twice in a burst is registered once.
     */
    List<Registered> register(List<Registration> burst) throws SQLException {
        synchronized (keyOwnership) {
            return registerBurst(burst);
        }
    }

    private List<Registered> registerBurst(List<Registration> burst) throws SQLException {
        List<Registered> out = new ArrayList<>(burst.size());
        try (Connection c = db.getConnection()) {
            c.setAutoCommit(false);
            try (PreparedStatement byKey = c.prepareStatement("SELECT * FROM relay_node WHERE tenant = ? AND node_key = ?");
                 PreparedStatement byId = c.prepareStatement("SELECT * FROM relay_node WHERE node_id = ?");
                 PreparedStatement reserved = c.prepareStatement("SELECT 1 FROM relay_member_key WHERE tenant = ? AND node_key = ?");
                 PreparedStatement update = c.prepareStatement(
                         "UPDATE relay_node SET hostname = ?, os = ?, endpoints = ?, last_seen = ?, node_key = ? WHERE node_id = ?");
                 PreparedStatement insert = c.prepareStatement("INSERT INTO relay_node (node_id, tenant, node_key, hostname, os,"
                         + " endpoints, created_at, last_seen, user_name, idp_groups, tags, name) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
                 PreparedStatement nameTaken = c.prepareStatement("SELECT 1 FROM relay_node WHERE tenant = ? AND name = ?"
                         + " UNION SELECT 1 FROM relay_member_key WHERE tenant = ? AND name = ?");
                 PreparedStatement dropRefresh = c.prepareStatement("DELETE FROM relay_refresh_token WHERE node_id = ?");
                 PreparedStatement addRefresh = c.prepareStatement(
                         "INSERT INTO relay_refresh_token (token_hash, node_id, expires_at) VALUES (?, ?, ?)")) {
                for (Registration r : burst) {
                    // A member's key (the CONNECT-IP gateway's) is in the tenant's map while the
                    // member runs, and reserved here while it does not: no node registers it.
                    reserved.setString(1, r.tenant());
                    reserved.setString(2, r.key());
                    try (ResultSet rows = reserved.executeQuery()) {
                        if (rows.next()) {
                            out.add(new Registered(null, null, Refusal.KEY_RESERVED));
                            continue;
                        }
                    }
                    byKey.setString(1, r.tenant());
                    byKey.setString(2, r.key());
                    Optional<Node> existing;
                    try (ResultSet rows = byKey.executeQuery()) {
                        existing = rows.next() ? Optional.of(node(rows)) : Optional.empty();
                    }
                    String endpoints = String.join(",", r.endpoints());
                    Node node;
                    if (r.ownNodeId() != null) {
                        Optional<Node> own;
                        byId.setString(1, r.ownNodeId());
                        try (ResultSet rows = byId.executeQuery()) {
                            own = rows.next() ? Optional.of(node(rows)) : Optional.empty();
                        }
                        if (own.isEmpty() || !own.get().tenant().equals(r.tenant())) {
                            out.add(new Registered(null, null, Refusal.NODE_REMOVED));
                            continue;
                        }
                        if (!own.get().key().equals(r.tokenKey())) {
                            // Checked again here, in the transaction: two requests with one token
                            // must not both rotate the node.
                            out.add(new Registered(null, null, Refusal.KEY_CHANGED));
                            continue;
                        }
                        if (existing.isPresent() && !existing.get().id().equals(r.ownNodeId())) {
                            out.add(new Registered(null, null, Refusal.KEY_TAKEN)); // rotating onto another node's key
                            continue;
                        }
                        update.setString(1, r.hostname());
                        update.setString(2, r.os());
                        update.setString(3, endpoints);
                        update.setTimestamp(4, Timestamp.from(r.now()));
                        update.setString(5, r.key());
                        update.setString(6, r.ownNodeId());
                        update.executeUpdate();
                        // Who the node is stays as it signed in first: its own token names no identity.
                        node = new Node(r.ownNodeId(), r.tenant(), r.key(), r.hostname(), r.os(), List.copyOf(r.endpoints()),
                                own.get().created(), r.now(), own.get().identity());
                        dropRefresh.setString(1, node.id());
                        dropRefresh.executeUpdate();
                    } else {
                        if (existing.isPresent()) {
                            out.add(new Registered(null, null, Refusal.KEY_TAKEN));
                            continue;
                        }
                        String name = uniqueName(nameTaken, r.tenant(), r.hostname());
                        RelayState.Identity who = r.identity();
                        node = new Node(UUID.randomUUID().toString(), r.tenant(), r.key(), r.hostname(), r.os(),
                                List.copyOf(r.endpoints()), r.now(), r.now(), new Identity(name, who.user(), who.idpGroups(), who.tags()));
                        insert.setString(1, node.id());
                        insert.setString(2, r.tenant());
                        insert.setString(3, r.key());
                        insert.setString(4, r.hostname());
                        insert.setString(5, r.os());
                        insert.setString(6, endpoints);
                        insert.setTimestamp(7, Timestamp.from(r.now()));
                        insert.setTimestamp(8, Timestamp.from(r.now()));
                        insert.setString(9, r.identity().user());
                        insert.setString(10, String.join(",", r.identity().idpGroups()));
                        insert.setString(11, String.join(",", r.identity().tags()));
                        insert.setString(12, node.identity().name());
                        insert.executeUpdate();
                    }
                    String secret = randomSecret();
                    addRefresh.setString(1, sha256(secret));
                    addRefresh.setString(2, node.id());
                    addRefresh.setTimestamp(3, Timestamp.from(r.refreshExpires()));
                    addRefresh.executeUpdate();
                    out.add(new Registered(node, secret, null));
                }
                c.commit();
                return out;
            } catch (SQLException | RuntimeException e) {
                c.rollback();
                throw e;
            } finally {
                c.setAutoCommit(true); // pooled connections go back as they came
            }
        }
    }

    /** Names no node takes: the relay's own members' (whose name may not have been reserved yet). */
    static final java.util.Set<String> RESERVED_NAMES = java.util.Set.of("relay-gateway");

    /**
     * The name a new node gets: its hostname, or the hostname with -2, -3, ... when another node
     * or member of the tenant has it (as the statement finds, in the registering transaction, so
     * that a burst's later entries see its earlier ones).
     */
    private static String uniqueName(PreparedStatement taken, String tenant, String hostname) throws SQLException {
        String base = hostname.length() > 240 ? hostname.substring(0, 240) : hostname;
        for (int n = 1; n < 10_000; n++) {
            String candidate = n == 1 ? base : base + "-" + n;
            if (RESERVED_NAMES.contains(candidate)) {
                continue;
            }
            taken.setString(1, tenant);
            taken.setString(2, candidate);
            taken.setString(3, tenant);
            taken.setString(4, candidate);
            try (ResultSet rows = taken.executeQuery()) {
                if (!rows.next()) {
                    return candidate;
                }
            }
        }
        return base + "-" + UUID.randomUUID(); // ten thousand of one name: give up counting
    }

    /**
     * Reserves {@code key} in {@code tenant} for a member inside the relay, for good (its lease is
     * kept for good too): from now on no node registers it, across restarts and while the member
     * is closed. Nothing is written when a node holds the key already.
     *
     * @return the id of the node holding the key, or empty once the key is the member's
     */
    Optional<String> reserveMemberKey(String tenant, String key, String memberId, String name, Instant now) throws SQLException {
        synchronized (keyOwnership) {
            try (Connection c = db.getConnection()) {
                c.setAutoCommit(false);
                try {
                    try (PreparedStatement q = c.prepareStatement("SELECT node_id FROM relay_node WHERE tenant = ? AND node_key = ?")) {
                        q.setString(1, tenant);
                        q.setString(2, key);
                        try (ResultSet r = q.executeQuery()) {
                            if (r.next()) {
                                String holder = r.getString(1);
                                c.rollback();
                                return Optional.of(holder);
                            }
                        }
                    }
                    boolean known;
                    try (PreparedStatement q = c.prepareStatement("SELECT 1 FROM relay_member_key WHERE tenant = ? AND node_key = ?")) {
                        q.setString(1, tenant);
                        q.setString(2, key);
                        try (ResultSet r = q.executeQuery()) {
                            known = r.next();
                        }
                    }
                    if (!known) {
                        try (PreparedStatement i = c.prepareStatement("INSERT INTO relay_member_key (tenant, node_key, member_id, name,"
                                + " created_at) VALUES (?, ?, ?, ?, ?)")) {
                            i.setString(1, tenant);
                            i.setString(2, key);
                            i.setString(3, memberId);
                            i.setString(4, name);
                            i.setTimestamp(5, Timestamp.from(now));
                            i.executeUpdate();
                        }
                    }
                    c.commit();
                    return Optional.empty();
                } catch (SQLException | RuntimeException e) {
                    c.rollback();
                    throw e;
                } finally {
                    c.setAutoCommit(true);
                }
            }
        }
    }

    Optional<Node> node(String id) throws SQLException {
        try (Connection c = db.getConnection(); PreparedStatement q = c.prepareStatement("SELECT * FROM relay_node WHERE node_id = ?")) {
            q.setString(1, id);
            try (ResultSet r = q.executeQuery()) {
                return r.next() ? Optional.of(node(r)) : Optional.empty();
            }
        }
    }

    /** The tenant's nodes; all nodes for {@code null}. */
    List<Node> nodes(String tenant) throws SQLException {
        String sql = "SELECT * FROM relay_node" + (tenant == null ? "" : " WHERE tenant = ?") + " ORDER BY tenant, created_at";
        try (Connection c = db.getConnection(); PreparedStatement q = c.prepareStatement(sql)) {
            if (tenant != null) {
                q.setString(1, tenant);
            }
            List<Node> out = new ArrayList<>();
            try (ResultSet r = q.executeQuery()) {
                while (r.next()) {
                    out.add(node(r));
                }
            }
            return out;
        }
    }

    List<String> tenants() throws SQLException {
        try (Connection c = db.getConnection(); PreparedStatement q = c.prepareStatement(
                "SELECT tenant FROM relay_node UNION SELECT tenant FROM relay_preauth_key ORDER BY 1")) {
            List<String> out = new ArrayList<>();
            try (ResultSet r = q.executeQuery()) {
                while (r.next()) {
                    out.add(r.getString(1));
                }
            }
            return out;
        }
    }

    /** Nodes last heard from before {@code cutoff}. */
    List<String> nodesSilentSince(Instant cutoff) throws SQLException {
        try (Connection c = db.getConnection(); PreparedStatement q = c.prepareStatement(
                "SELECT node_id FROM relay_node WHERE last_seen < ?")) {
            q.setTimestamp(1, Timestamp.from(cutoff));
            List<String> out = new ArrayList<>();
            try (ResultSet r = q.executeQuery()) {
                while (r.next()) {
                    out.add(r.getString(1));
                }
            }
            return out;
        }
    }

    void updateEndpoints(String id, List<String> endpoints, Instant now) throws SQLException {
        try (Connection c = db.getConnection(); PreparedStatement u = c.prepareStatement(
                "UPDATE relay_node SET endpoints = ?, last_seen = ? WHERE node_id = ?")) {
            u.setString(1, String.join(",", endpoints));
            u.setTimestamp(2, Timestamp.from(now));
            u.setString(3, id);
            u.executeUpdate();
        }
    }

    /** Deletes a node and its refresh tokens; returns it if there was one. */
    Optional<Node> deleteNode(String id) throws SQLException {
        try (Connection c = db.getConnection()) {
            c.setAutoCommit(false);
            try {
                Optional<Node> node;
                try (PreparedStatement q = c.prepareStatement("SELECT * FROM relay_node WHERE node_id = ?")) {
                    q.setString(1, id);
                    try (ResultSet r = q.executeQuery()) {
                        node = r.next() ? Optional.of(node(r)) : Optional.empty();
                    }
                }
                for (String sql : List.of("DELETE FROM relay_refresh_token WHERE node_id = ?", "DELETE FROM relay_node WHERE node_id = ?")) {
                    try (PreparedStatement d = c.prepareStatement(sql)) {
                        d.setString(1, id);
                        d.executeUpdate();
                    }
                }
                c.commit();
                return node;
            } catch (SQLException e) {
                c.rollback();
                throw e;
            }
        }
    }

    private static Node node(ResultSet r) throws SQLException {
        return new Node(r.getString("node_id"), r.getString("tenant"), r.getString("node_key"), r.getString("hostname"),
                r.getString("os"), list(r.getString("endpoints")), r.getTimestamp("created_at").toInstant(),
                r.getTimestamp("last_seen").toInstant(),
                new Identity(r.getString("name") == null ? r.getString("hostname") : r.getString("name"), r.getString("user_name"),
                        list(r.getString("idp_groups")), list(r.getString("tags"))));
    }

    /** A comma-separated column (its values never hold a comma). */
    private static List<String> list(String column) {
        return column == null || column.isEmpty() ? List.of() : List.of(column.split(","));
    }

    /** Gives a node these tags (replacing those it had); false when there is no such node. */
    boolean tagNode(String id, List<String> tags) throws SQLException {
        try (Connection c = db.getConnection(); PreparedStatement u = c.prepareStatement("UPDATE relay_node SET tags = ? WHERE node_id = ?")) {
            u.setString(1, String.join(",", tags));
            u.setString(2, id);
            return u.executeUpdate() == 1;
        }
    }

    // ---- pre-auth keys ----

    /** Makes a key; returns the secret form, shown once: {@code cbk_<id>_<secret>}. */
    String createPreAuthKey(String tenant, boolean reusable, Instant expires, Instant now) throws SQLException {
        return createPreAuthKey(tenant, reusable, expires, now, List.of());
    }

    /** As above; a node that signs in with the key gets {@code tags}. */
    String createPreAuthKey(String tenant, boolean reusable, Instant expires, Instant now, List<String> tags) throws SQLException {
        byte[] idBytes = new byte[6];
        RANDOM.nextBytes(idBytes);
        String id = HexFormat.of().formatHex(idBytes);
        String secret = randomSecret();
        try (Connection c = db.getConnection(); PreparedStatement i = c.prepareStatement("INSERT INTO relay_preauth_key"
                + " (key_id, tenant, secret_hash, reusable, expires_at, created_at, used_at, revoked, tags)"
                + " VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?)")) {
            i.setString(1, id);
            i.setString(2, tenant);
            i.setString(3, sha256(secret));
            i.setBoolean(4, reusable);
            i.setTimestamp(5, Timestamp.from(expires));
            i.setTimestamp(6, Timestamp.from(now));
            i.setBoolean(7, false);
            i.setString(8, String.join(",", tags));
            i.executeUpdate();
        }
        return "cbk_" + id + "_" + secret;
    }

    /**
     * Checks a presented key and, for a one-time key, uses it up in the same step: of two nodes
     * racing with one one-time key, one wins. {@code admit} hears the tenant of a good key before
     * it is used up, and refuses the registration by throwing: the key is then left as it was.
     */
    KeyVerdict usePreAuthKey(String presented, Instant now, java.util.function.Consumer<String> admit) throws SQLException {
        if (presented == null || !presented.matches("cbk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")) {
            return new KeyVerdict(KeyCheck.UNKNOWN, null);
        }
        String id = presented.substring(4, 16);
        String hash = sha256(presented.substring(17));
        AcceptedKey known = acceptedKeys.get(id);
        if (known != null && now.isBefore(known.checkedAt().plus(ACCEPTED_KEY_RECHECK)) && now.isBefore(known.expires())
                && MessageDigest.isEqual(known.hash().getBytes(StandardCharsets.US_ASCII), hash.getBytes(StandardCharsets.US_ASCII))) {
            admit.accept(known.tenant());
            return new KeyVerdict(KeyCheck.ACCEPTED, known.tenant(), known.tags());
        }
        try (Connection c = db.getConnection()) {
            PreAuthKey key;
            String storedHash;
            try (PreparedStatement q = c.prepareStatement("SELECT * FROM relay_preauth_key WHERE key_id = ?")) {
                q.setString(1, id);
                try (ResultSet r = q.executeQuery()) {
                    if (!r.next()) {
                        return new KeyVerdict(KeyCheck.UNKNOWN, null);
                    }
                    key = preAuthKey(r);
                    storedHash = r.getString("secret_hash");
                }
            }
            if (!MessageDigest.isEqual(storedHash.getBytes(StandardCharsets.US_ASCII), hash.getBytes(StandardCharsets.US_ASCII))) {
                return new KeyVerdict(KeyCheck.UNKNOWN, null);
            }
            if (key.revoked()) {
                return new KeyVerdict(KeyCheck.REVOKED, key.tenant());
            }
            if (!now.isBefore(key.expires())) {
                return new KeyVerdict(KeyCheck.EXPIRED, key.tenant());
            }
            if (key.reusable()) {
                if (acceptedKeys.size() >= MAX_ACCEPTED_KEYS) {
                    acceptedKeys.clear();
                }
                acceptedKeys.put(id, new AcceptedKey(storedHash, key.tenant(), key.expires(), now, key.tags()));
                admit.accept(key.tenant());
                return new KeyVerdict(KeyCheck.ACCEPTED, key.tenant(), key.tags());
            }
            if (key.used() != null) {
                return new KeyVerdict(KeyCheck.USED, key.tenant());
            }
            admit.accept(key.tenant());
            try (PreparedStatement u = c.prepareStatement(
                    "UPDATE relay_preauth_key SET used_at = ? WHERE key_id = ? AND used_at IS NULL")) {
                u.setTimestamp(1, Timestamp.from(now));
                u.setString(2, id);
                return new KeyVerdict(u.executeUpdate() == 1 ? KeyCheck.ACCEPTED : KeyCheck.USED, key.tenant(), key.tags());
            }
        }
    }

    List<PreAuthKey> preAuthKeys() throws SQLException {
        try (Connection c = db.getConnection(); PreparedStatement q = c.prepareStatement(
                "SELECT * FROM relay_preauth_key ORDER BY created_at")) {
            List<PreAuthKey> out = new ArrayList<>();
            try (ResultSet r = q.executeQuery()) {
                while (r.next()) {
                    out.add(preAuthKey(r));
                }
            }
            return out;
        }
    }

    boolean revokePreAuthKey(String id) throws SQLException {
        acceptedKeys.remove(id);
        try (Connection c = db.getConnection(); PreparedStatement u = c.prepareStatement(
                "UPDATE relay_preauth_key SET revoked = ? WHERE key_id = ?")) {
            u.setBoolean(1, true);
            u.setString(2, id);
            return u.executeUpdate() == 1;
        }
    }

    private static PreAuthKey preAuthKey(ResultSet r) throws SQLException {
        Timestamp used = r.getTimestamp("used_at");
        return new PreAuthKey(r.getString("key_id"), r.getString("tenant"), r.getBoolean("reusable"),
                r.getTimestamp("expires_at").toInstant(), r.getTimestamp("created_at").toInstant(),
                used == null ? null : used.toInstant(), r.getBoolean("revoked"), list(r.getString("tags")));
    }
}
