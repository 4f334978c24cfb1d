package io.cloudbridge.policy.internal;

import io.cloudbridge.api.net.IpPrefix;
import io.cloudbridge.api.policy.Explanation;
import io.cloudbridge.api.policy.FilterRule;
import io.cloudbridge.api.policy.Member;
import io.cloudbridge.api.policy.NodeFilter;
import io.cloudbridge.api.policy.PolicyCompiler;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A policy against the tenant's members at one moment. For each member it knows which rules name
 * it as a source and which as a destination (a bit per rule), so that whether two members see each
 * other is two bit-set intersections, and a member's filter is the rules naming it as a
 * destination, each with the addresses of every source it names. Those sources are the same for
 * every destination, so each rule's are computed once and shared.
 */
final class CompiledTenantPolicy implements PolicyCompiler.CompiledPolicy {
    private static final List<IpPrefix> EVERYWHERE = List.of(IpPrefix.parse("0.0.0.0/0"), IpPrefix.parse("::/0"));

    private final ParsedPolicy policy;
    private final long version;
    /** By id, in the order they came: the tenant's members. */
    private final Map<String, Member> byId;
    private final Map<String, BitSet> asSource;
    /** The same, accepting rules only: whom a member may reach is one intersection, without a copy. */
    private final Map<String, BitSet> asAcceptingSource;
    private final Map<String, BitSet> asDestination;
    /** The rules that name a member as a source by who it is (not by an address): its addresses are their sources. */
    private final Map<String, BitSet> asIdentitySource;
    private final BitSet accepting = new BitSet();
    private final List<List<IpPrefix>> sources;
    private final Map<String, NodeFilter> filters = new ConcurrentHashMap<>();

    CompiledTenantPolicy(ParsedPolicy policy, long version, Collection<Member> members) {
        this.policy = policy;
        this.version = version;
        this.byId = new java.util.LinkedHashMap<>();
        this.asSource = new HashMap<>();
        this.asAcceptingSource = new HashMap<>();
        this.asDestination = new HashMap<>();
        this.asIdentitySource = new HashMap<>();
        this.sources = new ArrayList<>();
        List<PolicyRule> rules = policy.rules;
        for (int i = 0; i < rules.size(); i++) {
            if (rules.get(i).accept()) {
                accepting.set(i);
            }
        }
        for (Member m : members) {
            place(m);
        }
        // Each rule's sources in one pass over the members' bits, not one pass over the members per rule.
        List<Set<IpPrefix>> byRule = new ArrayList<>();
        for (int i = 0; i < rules.size(); i++) {
            byRule.add(new LinkedHashSet<>());
        }
        for (Member m : byId.values()) {
            BitSet named = asIdentitySource.get(m.id());
            for (int i = named.nextSetBit(0); i >= 0; i = named.nextSetBit(i + 1)) {
                for (InetAddress a : m.addresses()) {
                    byRule.get(i).add(hostPrefix(a));
                }
            }
        }
        for (int i = 0; i < rules.size(); i++) {
            sources.add(sourceAddresses(i, byRule.get(i)));
        }
    }

    /** A copy of {@code from} that shares every member's bits and every rule's sources until they change. */
    private CompiledTenantPolicy(CompiledTenantPolicy from) {
        this.policy = from.policy;
        this.version = from.version;
        this.byId = new java.util.LinkedHashMap<>(from.byId);
        this.asSource = new HashMap<>(from.asSource);
        this.asAcceptingSource = new HashMap<>(from.asAcceptingSource);
        this.asDestination = new HashMap<>(from.asDestination);
        this.asIdentitySource = new HashMap<>(from.asIdentitySource);
        this.accepting.or(from.accepting);
        this.sources = new ArrayList<>(from.sources);
    }

    /** Puts a member in: which rules name it as a source, and which as a destination. */
    private void place(Member m) {
        byId.put(m.id(), m);
        BitSet[] named = policy.rulesNaming(Subject.of(m));
        BitSet src = named[0];
        BitSet dst = named[1];
        asSource.put(m.id(), src);
        BitSet accepted = (BitSet) src.clone();
        accepted.and(accepting);
        asAcceptingSource.put(m.id(), accepted);
        asDestination.put(m.id(), dst);
        asIdentitySource.put(m.id(), named[2]);
    }

    @Override
    public PolicyCompiler.CompiledPolicy with(Member member) {
        CompiledTenantPolicy next = new CompiledTenantPolicy(this);
        BitSet before = asSource.get(member.id());
        next.place(member);
        next.refreshSources(before, next.asSource.get(member.id()));
        return next;
    }

    @Override
    public PolicyCompiler.CompiledPolicy without(String nodeId) {
        if (!byId.containsKey(nodeId)) {
            return this;
        }
        CompiledTenantPolicy next = new CompiledTenantPolicy(this);
        BitSet before = next.asSource.remove(nodeId);
        next.asAcceptingSource.remove(nodeId);
        next.asDestination.remove(nodeId);
        next.asIdentitySource.remove(nodeId);
        next.byId.remove(nodeId);
        next.refreshSources(before, null);
        return next;
    }

    /** The sources of the rules that named a changed member as a source, before or after, computed again. */
    private void refreshSources(BitSet before, BitSet after) {
        BitSet changed = new BitSet();
        if (before != null) {
            changed.or(before);
        }
        if (after != null) {
            changed.or(after);
        }
        for (int i = changed.nextSetBit(0); i >= 0; i = changed.nextSetBit(i + 1)) {
            Set<IpPrefix> members = new LinkedHashSet<>();
            for (Member m : byId.values()) {
                if (asIdentitySource.get(m.id()).get(i)) {
                    for (InetAddress a : m.addresses()) {
                        members.add(hostPrefix(a));
                    }
                }
            }
            sources.set(i, sourceAddresses(i, members));
        }
    }

    /** Every address a rule's sources stand for: prefixes as written, and the addresses of the members it names. */
    private List<IpPrefix> sourceAddresses(int rule, Set<IpPrefix> members) {
        Set<IpPrefix> out = new LinkedHashSet<>();
        for (Selector s : policy.rules.get(rule).sources()) {
            switch (s.kind()) {
                case ANY -> {
                    return EVERYWHERE;
                }
                case PREFIX -> out.add(s.prefix());
                case HOST -> out.add(policy.host(s.name()));
                default -> {
                    // members: below
                }
            }
        }
        out.addAll(members);
        return List.copyOf(out);
    }

    private static IpPrefix hostPrefix(InetAddress a) {
        return new IpPrefix(a, a.getAddress().length * 8);
    }

    @Override
    public long version() {
        return version;
    }

    @Override
    public boolean visible(String nodeId, String otherNodeId) {
        BitSet aSrc = asAcceptingSource.get(nodeId);
        BitSet bSrc = asAcceptingSource.get(otherNodeId);
        if (aSrc == null || bSrc == null) {
            return false;
        }
        return aSrc.intersects(asDestination.get(otherNodeId)) || bSrc.intersects(asDestination.get(nodeId));
    }

    /** By rule: the members it names as a destination, and as an accepting rule's source, in the caller's numbering. */
    private volatile BitSet[][] byRule;

    @Override
    public BitSet visibleFrom(String nodeId, java.util.function.ToIntFunction<String> indexOf) {
        BitSet out = new BitSet();
        BitSet src = asAcceptingSource.get(nodeId);
        BitSet dst = asDestination.get(nodeId);
        if (src == null || dst == null) {
            return out;
        }
        BitSet[][] index = byRule;
        if (index == null) {
            index = membersByRule(indexOf);
            byRule = index;
        }
        BitSet[] destinations = index[0];
        BitSet[] sourcesOf = index[1];
        for (int r = src.nextSetBit(0); r >= 0; r = src.nextSetBit(r + 1)) {
            out.or(destinations[r]); // it may reach them
        }
        for (int r = dst.nextSetBit(0); r >= 0; r = dst.nextSetBit(r + 1)) {
            if (accepting.get(r)) {
                out.or(sourcesOf[r]); // they may reach it
            }
        }
        return out;
    }

    private BitSet[][] membersByRule(java.util.function.ToIntFunction<String> indexOf) {
        int rules = policy.rules.size();
        BitSet[] destinations = new BitSet[rules];
        BitSet[] sourcesOf = new BitSet[rules];
        for (int r = 0; r < rules; r++) {
            destinations[r] = new BitSet();
            sourcesOf[r] = new BitSet();
        }
        for (Member m : byId.values()) {
            int i = indexOf.applyAsInt(m.id());
            if (i < 0) {
                continue;
            }
            BitSet dst = asDestination.get(m.id());
            for (int r = dst.nextSetBit(0); r >= 0; r = dst.nextSetBit(r + 1)) {
                destinations[r].set(i);
            }
            BitSet src = asAcceptingSource.get(m.id());
            for (int r = src.nextSetBit(0); r >= 0; r = src.nextSetBit(r + 1)) {
                sourcesOf[r].set(i);
            }
        }
        return new BitSet[][] {destinations, sourcesOf};
    }

    @Override
    public NodeFilter filterFor(String nodeId) {
        return filters.computeIfAbsent(nodeId, this::compileFilter);
    }

    private NodeFilter compileFilter(String nodeId) {
        Member m = byId.get(nodeId);
        if (m == null) {
            return new NodeFilter(version, List.of());
        }
        Subject x = Subject.of(m);
        BitSet named = asDestination.get(nodeId);
        List<FilterRule> out = new ArrayList<>();
        for (int i = named.nextSetBit(0); i >= 0; i = named.nextSetBit(i + 1)) {
            PolicyRule r = policy.rules.get(i);
            List<IpPrefix> destinations = destinationAddresses(r, x, m);
            if (destinations.isEmpty() || sources.get(i).isEmpty()) {
                continue; // it can match no packet: a group without members now, say
            }
            out.add(new FilterRule(r.position(), r.name(), r.accept(), sources.get(i), destinations, r.protocols(), r.ports()));
        }
        return new NodeFilter(version, out);
    }

    /** The member's addresses a rule names: all of them when it names the member, else those inside its prefixes. */
    private List<IpPrefix> destinationAddresses(PolicyRule r, Subject x, Member m) {
        List<IpPrefix> out = new ArrayList<>();
        for (Selector s : r.destinations()) {
            if (s.kind().byIdentity() && policy.matches(s, x)) {
                return m.addresses().stream().map(CompiledTenantPolicy::hostPrefix).toList();
            }
        }
        for (InetAddress a : m.addresses()) {
            for (Selector s : r.destinations()) {
                IpPrefix p = s.kind() == Selector.Kind.HOST ? policy.host(s.name()) : s.prefix();
                if (p != null && p.contains(a)) {
                    out.add(hostPrefix(a));
                    break;
                }
            }
        }
        return out;
    }

    @Override
    public Explanation explain(String source, String destination, String protocol, int port) {
        int number = ParsedPolicy.protocolNumber(protocol.toLowerCase(java.util.Locale.ROOT));
        if ((number == FilterRule.TCP || number == FilterRule.UDP) && (port < 1 || port > 65_535)) {
            throw new IllegalArgumentException("port " + port + " is out of range: ports are 1-65535");
        }
        List<Subject> from = policy.resolve(source, byId.values());
        List<Subject> to = policy.resolve(destination, byId.values());
        // A name may stand for several members (a tag): each pair is decided, and the answer is
        // the first pair the policy refuses, else the first pair.
        Explanation first = null;
        for (Subject s : from) {
            for (Subject d : to) {
                Explanation e = policy.decide(s, d, number, port);
                List<String> steps = new ArrayList<>();
                steps.add(s.shown() + " -> " + d.shown() + " " + ParsedPolicy.flowText(number, port) + ":");
                steps.addAll(e.steps());
                Explanation named = new Explanation(e.accepted(), e.decidedBy(), steps);
                if (!e.accepted()) {
                    return named;
                }
                if (first == null) {
                    first = named;
                }
            }
        }
        return first;
    }
}
