package io.cloudbridge.masque.internal;

import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * What the proxy's shared resources may hold, by whom: tunnels (CONNECT-UDP tunnels and CONNECT-IP
 * sessions: each a socket or an overlay address, and their buffers) and name look-ups in flight.
 * Every request takes its slot here before the proxy spends anything on it, and gives it back when
 * its tunnel ends (or when it was refused further on).
 *
 * <p>Three bounds, checked in the order a client can do something about them:
 * <ul>
 * <li>its own: a client (one node, one signed-in user) holds at most {@code maxTunnelsPerClient}
 * tunnels; 429;
 * <li>its tenant's: all of a tenant's clients together hold at most {@code maxTunnelsPerTenant}
 * CONNECT-UDP tunnels, {@code maxIpSessionsPerTenant} CONNECT-IP sessions and
 * {@code maxResolutionsPerTenant} look-ups in flight, so that one credential (or a reusable
 * pre-auth key making many clients) cannot take what other tenants need; 429;
 * <li>the proxy's: {@code maxTunnels} tunnels and {@code maxResolutions} look-ups in all, of which
 * the last {@code reservedTunnels} ({@code reservedResolutions}) go only to a tenant holding none
 * of that kind, so that however full the others made the proxy, a tenant's first tunnel (and its
 * first look-up) still gets a slot; 503, the proxy's state rather than the client's doing.
 * </ul>
 *
 * <p>The counts are plain maps under one lock: taking a slot is a few map operations, done once
 * per request, and a tenant's entries go when it holds nothing, so the maps are as large as the
 * set of tenants and clients holding something.
 */
final class Admission {

    /** The bounds; see {@link MasqueConfig} for each. */
    record Limits(int tunnelsPerClient, int tunnelsPerTenant, int ipSessionsPerTenant, int tunnels, int reservedTunnels,
            int resolutionsPerTenant, int resolutions, int reservedResolutions) {
        static Limits of(MasqueConfig c) {
            return new Limits(c.maxTunnelsPerClient(), c.maxTunnelsPerTenant(), c.maxIpSessionsPerTenant(), c.maxTunnels(),
                    Math.min(c.reservedTunnels(), c.maxTunnels() - 1), c.maxResolutionsPerTenant(), c.maxResolutions(),
                    Math.min(c.reservedResolutions(), c.maxResolutions() - 1));
        }
    }

    /**
     * Why a request gets no slot: its HTTP status, a reason for the body, the RFC 9209 Proxy-Status
     * error type, and when to come back (seconds, for Retry-After).
     */
    record Refusal(int status, String reason, String proxyError, int retryAfterSeconds) {
    }

    /** Thrown, without a stack trace (refusals are routine under load), when a slot is refused. */
    static final class Refused extends Exception {
        private static final long serialVersionUID = 1L;
        final transient Refusal refusal;

        Refused(Refusal refusal) {
            super(refusal.reason(), null, false, false);
            this.refusal = refusal;
        }
    }

    /** What a slot is for. */
    enum Kind {
        UDP_TUNNEL("CONNECT-UDP tunnels", "masque.maxTunnelsPerTenant"),
        IP_SESSION("CONNECT-IP sessions", "masque.maxIpSessionsPerTenant"),
        RESOLUTION("name look-ups in flight", "masque.maxResolutionsPerTenant");

        final String what;
        final String tenantKey;

        Kind(String what, String tenantKey) {
            this.what = what;
            this.tenantKey = tenantKey;
        }
    }

    /** One slot taken: given back once, whoever calls {@link #close()} first (the tunnel's end, or a refusal further on). */
    final class Slot implements AutoCloseable {
        private final Kind kind;
        private final MasqueProxy.Client client;
        private final AtomicBoolean released = new AtomicBoolean();

        private Slot(Kind kind, MasqueProxy.Client client) {
            this.kind = kind;
            this.client = client;
        }

        @Override
        public void close() {
            if (released.compareAndSet(false, true)) {
                release(kind, client);
            }
        }
    }

    private final Limits limits;
    private final Map<String, Integer> byClient = new HashMap<>();
    /** By kind, then tenant. */
    private final Map<Kind, Map<String, Integer>> byTenant = new HashMap<>();
    private int tunnels;
    private int resolutions;

    Admission(Limits limits) {
        this.limits = limits;
        for (Kind k : Kind.values()) {
            byTenant.put(k, new HashMap<>());
        }
    }

    Limits limits() {
        return limits;
    }

    /**
     * Takes a slot of {@code kind} for {@code client}, or none at all.
     *
     * @throws Refused a bound is reached: the refusal says which, with its status
     */
    synchronized Slot take(Kind kind, MasqueProxy.Client client) throws Refused {
        String tenant = client.tenant();
        Map<String, Integer> tenants = byTenant.get(kind);
        int tenantHolds = tenants.getOrDefault(tenant, 0);
        if (kind == Kind.RESOLUTION) {
            check(tenantHolds, limits.resolutionsPerTenant(), kind, tenant);
            checkProxy(resolutions, limits.resolutions(), limits.reservedResolutions(), tenantHolds, kind.what, "masque.maxResolutions");
            resolutions++;
        } else {
            int clientHolds = byClient.getOrDefault(client.key(), 0);
            if (clientHolds >= limits.tunnelsPerClient()) {
                throw new Refused(new Refusal(429, client.id() + " holds " + clientHolds + " tunnels already (masque.maxTunnelsPerClient)",
                        "connection_limit_reached", 10));
            }
            check(tenantHolds, kind == Kind.UDP_TUNNEL ? limits.tunnelsPerTenant() : limits.ipSessionsPerTenant(), kind, tenant);
            // The reserve is for a tenant holding no tunnel of either kind: its first.
            int tenantTunnels = byTenant.get(Kind.UDP_TUNNEL).getOrDefault(tenant, 0) + byTenant.get(Kind.IP_SESSION).getOrDefault(tenant, 0);
            checkProxy(tunnels, limits.tunnels(), limits.reservedTunnels(), tenantTunnels, "tunnels and sessions", "masque.maxTunnels");
            byClient.merge(client.key(), 1, Integer::sum);
            tunnels++;
        }
        tenants.merge(tenant, 1, Integer::sum);
        return new Slot(kind, client);
    }

    private static void check(int tenantHolds, int max, Kind kind, String tenant) throws Refused {
        if (tenantHolds >= max) {
            throw new Refused(new Refusal(429, "tenant " + tenant + " holds " + tenantHolds + " " + kind.what + " already ("
                    + kind.tenantKey + ")", "connection_limit_reached", kind == Kind.RESOLUTION ? 5 : 10));
        }
    }

    private static void checkProxy(int held, int max, int reserved, int tenantHolds, String what, String key) throws Refused {
        if (held >= max) {
            throw new Refused(new Refusal(503, "the proxy holds its maximum of " + max + " " + what + " (" + key + ")",
                    "connection_limit_reached", 10));
        }
        if (held >= max - reserved && tenantHolds > 0) {
            throw new Refused(new Refusal(503, "the proxy's last " + reserved + " " + what + " are kept for tenants holding none ("
                    + key + ")", "connection_limit_reached", 10));
        }
    }

    private synchronized void release(Kind kind, MasqueProxy.Client client) {
        decrement(byTenant.get(kind), client.tenant());
        if (kind == Kind.RESOLUTION) {
            resolutions--;
        } else {
            decrement(byClient, client.key());
            tunnels--;
        }
    }

    private static void decrement(Map<String, Integer> counts, String key) {
        counts.computeIfPresent(key, (k, n) -> n <= 1 ? null : n - 1);
    }

    /** What a tenant holds now, of {@code kind}. */
    synchronized int held(Kind kind, String tenant) {
        return byTenant.get(kind).getOrDefault(tenant, 0);
    }

    /** Every tenant holding something, with what: for {@code masque:tunnels}. */
    synchronized Map<String, String> byTenant() {
        Map<String, String> out = new java.util.TreeMap<>();
        for (Kind k : Kind.values()) {
            byTenant.get(k).forEach((tenant, n) -> out.merge(tenant, n + " " + k.what, (a, b) -> a + ", " + b));
        }
        return out;
    }

    synchronized int tunnels() {
        return tunnels;
    }

    synchronized int resolutions() {
        return resolutions;
    }
}
