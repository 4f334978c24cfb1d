package io.cloudbridge.control.relay.internal;

import io.cloudbridge.api.policy.Explanation;
import io.cloudbridge.api.policy.PolicyCompiler;
import io.cloudbridge.api.policy.PolicyException;
import java.sql.SQLException;
import java.time.Clock;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tenants' access policies: a new version is parsed and checked, run against its own tests with the
 * tenant's members now, stored, and put in force in the tenant's map, which sends every node what
 * changes for it. A refused policy changes nothing. A stored policy that no longer parses (the
 * language changed under it) is put in force as "nothing is allowed": a tenant that had a policy
 * never falls back to everyone reaching everyone.
 */
final class TenantPolicies {
    private static final Logger LOG = LoggerFactory.getLogger(TenantPolicies.class);

    private final RelayState state;
    private final PolicyCompiler compiler;
    private final Clock clock;
    private NetworkMaps maps;

    TenantPolicies(RelayState state, PolicyCompiler compiler, Clock clock) {
        this.state = state;
        this.compiler = compiler;
        this.clock = clock;
    }

    /** The maps it puts policies in force in (they read policies through this too). */
    void maps(NetworkMaps maps) {
        this.maps = maps;
    }

    /** The tenant's policy in force as stored, parsed: what its map is made with. */
    NetworkMaps.TenantPolicy load(String tenant) {
        Optional<PolicyVersion> current;
        try {
            current = state.policyVersions().current(tenant);
        } catch (SQLException e) {
            throw io.grpc.Status.UNAVAILABLE.withDescription("the relay's database failed; try again").asRuntimeException();
        }
        if (current.isEmpty() || current.get().text() == null) {
            return NetworkMaps.TenantPolicy.NONE;
        }
        try {
            return new NetworkMaps.TenantPolicy(current.get().version(), compiler.parse(current.get().text()));
        } catch (PolicyException e) {
            LOG.error("tenant {}'s policy version {} does not parse any more ({}): nothing is allowed until a new one is set",
                    tenant, current.get().version(), e.getMessage());
            return new NetworkMaps.TenantPolicy(current.get().version(), denyAll());
        }
    }

    private PolicyCompiler.Policy denyAll() {
        try {
            return compiler.parse("rules: []\n");
        } catch (PolicyException e) {
            throw new IllegalStateException("the policy language refuses an empty rule list", e);
        }
    }

    /**
     * Checks {@code text} and its tests against the tenant's members, and puts it in force.
     *
     * One change at a time: versions are put in force in the order they are stored.
     *
     * @throws PolicyException with the line and the reason; the policy in force stays
     */
    synchronized PolicyVersion set(String tenant, String text, String by) throws PolicyException, SQLException {
        PolicyCompiler.Policy parsed = compiler.parse(text);
        parsed.test(maps.members(tenant));
        PolicyVersion stored = state.policyVersions().add(tenant, text, by, clock.instant());
        maps.policy(tenant, new NetworkMaps.TenantPolicy(stored.version(), parsed));
        ControlService.SECURITY.info("tenant {}'s access policy is now version {} (sha256 {}), set by {}", tenant, stored.version(),
                stored.sha256(), by);
        return stored;
    }

    /** Takes the tenant back to no policy: everyone reaches everyone. Recorded as a version without text. */
    synchronized PolicyVersion delete(String tenant, String by) throws SQLException {
        PolicyVersion stored = state.policyVersions().add(tenant, null, by, clock.instant());
        maps.policy(tenant, NetworkMaps.TenantPolicy.NONE);
        ControlService.SECURITY.info("tenant {}'s access policy was removed (version {}) by {}: everyone reaches everyone", tenant,
                stored.version(), by);
        return stored;
    }

    Optional<PolicyVersion> current(String tenant) throws SQLException {
        return state.policyVersions().current(tenant);
    }

    List<PolicyVersion> history(String tenant) throws SQLException {
        return state.policyVersions().list(tenant, 1000);
    }

    /**
     * Whether {@code source} may open a flow to {@code destination} under the tenant's policy in
     * force, with its members now.
     */
    Optional<Explanation> explain(String tenant, String source, String destination, String protocol, int port) {
        PolicyCompiler.CompiledPolicy compiled = maps.compiled(tenant);
        return compiled == null ? Optional.empty() : Optional.of(compiled.explain(source, destination, protocol, port));
    }
}
