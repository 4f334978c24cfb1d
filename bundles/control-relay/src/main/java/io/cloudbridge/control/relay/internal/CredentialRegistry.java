package io.cloudbridge.control.relay.internal;

import io.cloudbridge.api.auth.CredentialRejectedException;
import io.cloudbridge.api.auth.IdentityVerifier;
import io.cloudbridge.api.auth.VerifiedIdentity;
import io.cloudbridge.api.relay.CredentialCheckUnavailableException;
import io.cloudbridge.api.relay.CredentialRevocations;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Every session the relay admitted with a credential, by credential: a node's key (its node id and
 * the key its tokens name), or a user of the identity provider. The control plane revokes a
 * credential here when it removes the node, when the node rotates its key, and when the identity
 * provider's verifier goes away; a sweep ends the sessions of credentials whose token expired
 * without renewal. Listeners of every kind (transport ports, MASQUE tunnels, the control plane's
 * own streams) bind their sessions, so one revocation reaches them all.
 *
 * <p>Binding registers first and checks the credential second; revoking changes the database
 * first and ends the registered sessions second. So a session whose check raced a revocation is
 * either refused by its own check or found and ended by the revocation: it never survives.
 */
final class CredentialRegistry implements CredentialRevocations, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(CredentialRegistry.class);
    /** How often expiry is checked: a session outlives its credential by at most this. */
    static final long SWEEP_MILLIS = 200;

    private final RelayState state;
    private final NodeTokens tokens;
    private final Clock clock;
    private final Supplier<IdentityVerifier> identity;
    private final Map<String, Credential> credentials = new ConcurrentHashMap<>();
    private final ScheduledExecutorService sweeper;

    CredentialRegistry(RelayState state, NodeTokens tokens, Clock clock, Supplier<IdentityVerifier> identity) {
        this.state = state;
        this.tokens = tokens;
        this.clock = clock;
        this.identity = identity;
        this.sweeper = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "relay-credential-expiry");
            t.setDaemon(true);
            return t;
        });
        sweeper.scheduleWithFixedDelay(this::sweep, SWEEP_MILLIS, SWEEP_MILLIS, TimeUnit.MILLISECONDS);
    }

    @Override
    public void close() {
        sweeper.shutdownNow();
    }

    // ---- binding ----

    @Override
    public Binding bind(String token, Revocable session) throws CredentialRejectedException {
        NodeTokens.Claims claims;
        try {
            claims = tokens.verify(token, clock.instant());
        } catch (NodeTokens.Refused nodeRefusal) {
            IdentityVerifier verifier = identity.get();
            if (verifier == null) {
                throw new CredentialRejectedException(nodeRefusal.getMessage());
            }
            VerifiedIdentity user = verifier.verify(token);
            Bound b = register(userId(user), null, null, user.expires(), session);
            if (identity.get() != verifier) {
                // The provider's verifier went (or was replaced) while this was bound: it trusts nobody now.
                b.close();
                throw new CredentialRejectedException("the identity provider is no longer trusted");
            }
            return b;
        }
        return bindNode(claims.nodeId(), claims.nodeKey(), claims.expires(), session);
    }

    /**
     * Binds a session of a node authenticated by its token's claims (the control plane's own streams).
     *
     * @throws CredentialCheckUnavailableException the database failed: try again later
     */
    Bound bindNode(String nodeId, String nodeKey, Instant expires, Revocable session) throws CredentialRejectedException {
        Bound b = register(nodeCredential(nodeId, nodeKey), nodeId, nodeKey, expires, session);
        Optional<RelayState.Node> node;
        try {
            node = state.node(nodeId);
        } catch (SQLException e) {
            b.close();
            throw new CredentialCheckUnavailableException("the relay's database failed; try again", e);
        }
        if (node.isEmpty()) {
            b.close();
            throw new CredentialRejectedException("node removed");
        }
        if (!node.get().key().equals(nodeKey)) {
            b.close();
            throw new CredentialRejectedException("the node rotated its key");
        }
        return b;
    }

    private Bound register(String id, String nodeId, String nodeKey, Instant expires, Revocable session)
            throws CredentialRejectedException {
        if (!expires.isAfter(clock.instant())) {
            throw new CredentialRejectedException("expired");
        }
        Bound b = new Bound(id, session);
        credentials.compute(id, (k, c) -> {
            Credential held = c == null ? new Credential(nodeId, nodeKey, expires) : c;
            held.extend(expires);
            held.sessions.add(b);
            return held;
        });
        return b;
    }

    // ---- renewal and revocation ----

    /** The node was issued a token for its key, good until {@code until}: its sessions live on until then. */
    void renewed(String nodeId, String nodeKey, Instant until) {
        credentials.computeIfPresent(nodeCredential(nodeId, nodeKey), (k, c) -> {
            c.extend(until);
            return c;
        });
    }

    /** Ends every session of the node, whatever key it had (it was removed). */
    int revokeNode(String nodeId, String reason) {
        return revokeWhere(c -> nodeId.equals(c.nodeId), reason);
    }

    /** Ends the sessions of the node's old key (it rotated to another). */
    int revokeNodeKey(String nodeId, String nodeKey, String reason) {
        return revoke(nodeCredential(nodeId, nodeKey), reason);
    }

    /** Ends every session an identity provider's token opened (the provider is no longer trusted, or is another now). */
    int revokeUsers(String reason) {
        return revokeWhere(c -> c.nodeId == null, reason);
    }

    /** Ends the sessions of credentials whose expiry passed without renewal. */
    void sweep() {
        try {
            Instant now = clock.instant();
            for (Map.Entry<String, Credential> e : credentials.entrySet()) {
                if (!e.getValue().expires.isAfter(now) && revoke(e.getKey(), c -> !c.expires.isAfter(now), "token expired") > 0) {
                    LOG.info("sessions of {} ended: its token expired without renewal", e.getKey());
                }
            }
        } catch (RuntimeException e) {
            LOG.warn("checking credentials for expiry failed: {}", e.toString());
        }
    }

    private int revokeWhere(java.util.function.Predicate<Credential> which, String reason) {
        int n = 0;
        for (Map.Entry<String, Credential> e : credentials.entrySet()) {
            if (which.test(e.getValue())) {
                n += revoke(e.getKey(), which, reason);
            }
        }
        return n;
    }

    private int revoke(String id, String reason) {
        return revoke(id, c -> true, reason);
    }

    /**
     * Takes the credential out if it still matches (a renewal may have come since it was looked
     * at), then ends its sessions; a session bound after this finds no credential and starts a new one.
     */
    private int revoke(String id, java.util.function.Predicate<Credential> stillMatches, String reason) {
        Credential[] taken = new Credential[1];
        credentials.computeIfPresent(id, (k, c) -> {
            if (stillMatches.test(c)) {
                taken[0] = c;
                return null;
            }
            return c;
        });
        Credential c = taken[0];
        if (c == null) {
            return 0;
        }
        int n = 0;
        for (Bound b : List.copyOf(c.sessions)) {
            if (b.end()) {
                n++;
                try {
                    b.session.revoked(reason);
                } catch (RuntimeException e) {
                    LOG.warn("a session of {} failed to end on revocation: {}", id, e.toString());
                }
            }
        }
        if (n > 0) {
            ControlService.SECURITY.info("{} session(s) of {} ended: {}", n, id, reason);
        }
        return n;
    }

    /** Sessions bound now, for relay:status and tests. */
    int sessions() {
        return credentials.values().stream().mapToInt(c -> c.sessions.size()).sum();
    }

    private static String nodeCredential(String nodeId, String nodeKey) {
        return "node " + nodeId + " key " + nodeKey;
    }

    /** One user is one credential: a newer token of theirs presented to the relay renews their sessions. */
    private static String userId(VerifiedIdentity user) {
        return "user " + user.subject() + " of " + user.issuer() + " in tenant " + user.tenant();
    }

    private static final class Credential {
        final String nodeId;
        final String nodeKey;
        volatile Instant expires;
        final Set<Bound> sessions = ConcurrentHashMap.newKeySet();

        Credential(String nodeId, String nodeKey, Instant expires) {
            this.nodeId = nodeId;
            this.nodeKey = nodeKey;
            this.expires = expires;
        }

        /** Only inside the map's compute for this credential: never shortens. */
        void extend(Instant until) {
            if (until.isAfter(expires)) {
                expires = until;
            }
        }
    }

    /** One session's binding. */
    final class Bound implements Binding {
        private final String id;
        final Revocable session;
        private final AtomicBoolean ended = new AtomicBoolean();

        Bound(String id, Revocable session) {
            this.id = id;
            this.session = session;
        }

        /** True for the one caller that ends it (a revocation or the session's own close). */
        boolean end() {
            return ended.compareAndSet(false, true);
        }

        @Override
        public Instant expires() {
            Credential c = credentials.get(id);
            return c == null ? clock.instant() : c.expires;
        }

        @Override
        public void close() {
            if (!end()) {
                return;
            }
            credentials.computeIfPresent(id, (k, c) -> {
                c.sessions.remove(this);
                return c.sessions.isEmpty() ? null : c;
            });
        }
    }
}
