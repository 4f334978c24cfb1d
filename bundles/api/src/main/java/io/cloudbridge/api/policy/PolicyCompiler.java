package io.cloudbridge.api.policy;

import java.util.Collection;
import org.osgi.annotation.versioning.ProviderType;

/** Reads tenants' policy files (YAML). */
@ProviderType
public interface PolicyCompiler {

    /** The largest policy file taken, in bytes. */
    int MAX_POLICY_BYTES = 1 << 20;

    /**
     * Parses and checks a policy: its syntax, every group, tag and host it names, membership
     * cycles, protocols and port ranges.
     *
     * @throws PolicyException with the line and the reason
     */
    Policy parse(String text) throws PolicyException;

    /** A parsed policy. */
    @ProviderType
    interface Policy {
        /**
         * Runs the policy's own tests (its {@code tests} section) against {@code members}.
         *
         * @throws PolicyException naming the first test that fails, its line, and the rule that decided it
         */
        void test(Collection<Member> members) throws PolicyException;

        /** The policy compiled against the tenant's members now. */
        CompiledPolicy compile(long version, Collection<Member> members);
    }

    /** A policy against a tenant's members: what each node's map shows and lets in. */
    @ProviderType
    interface CompiledPolicy {
        long version();

        /**
         * The same policy with one member added or changed: only what that member changes is
         * computed again (its own place in the rules, and the sources of the rules that name it).
         */
        CompiledPolicy with(Member member);

        /** The same policy without a member. */
        CompiledPolicy without(String nodeId);

        /** Whether one of the two may reach the other on something: then each is in the other's map. */
        boolean visible(String nodeId, String otherNodeId);

        /**
         * Every member {@code nodeId} sees ({@link #visible}), as the bits {@code indexOf} gives them:
         * a whole map's worth of {@link #visible} at the cost of a few unions of bit sets. The
         * caller numbers the members, from 0, and passes the same numbering every time; a member
         * it gives no number (a negative one) is left out.
         */
        java.util.BitSet visibleFrom(String nodeId, java.util.function.ToIntFunction<String> indexOf);

        /** The filter for a member's own addresses; a member unknown to it gets one that lets nothing in. */
        NodeFilter filterFor(String nodeId);

        /**
         * Whether {@code source} may open a flow to {@code destination} ({@code protocol} as
         * {@code tcp}, {@code udp}, {@code icmp}, {@code icmpv6}; {@code port} 0 for those
         * without), and why. Source and destination are node names, overlay addresses or tags.
         *
         * @throws IllegalArgumentException naming what it cannot read or find
         */
        Explanation explain(String source, String destination, String protocol, int port);
    }
}
