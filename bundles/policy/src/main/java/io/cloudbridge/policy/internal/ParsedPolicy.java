package io.cloudbridge.policy.internal;

import io.cloudbridge.api.net.IpPrefix;
import io.cloudbridge.api.policy.Explanation;
import io.cloudbridge.api.policy.FilterRule;
import io.cloudbridge.api.policy.Member;
import io.cloudbridge.api.policy.PolicyCompiler;
import io.cloudbridge.api.policy.PolicyException;
import io.cloudbridge.api.policy.PortRange;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * A policy that parsed and passed the checks that need no members: its groups (flattened to the
 * node names, users and identity-provider groups they hold), tags, hosts, rules and tests. How a
 * rule matches one end of a flow, and how the rules decide a flow, are here, so that a node's
 * filter, a test and an explanation all decide the same way.
 */
final class ParsedPolicy implements PolicyCompiler.Policy {
    private final Map<String, List<Selector>> tags;
    private final Map<String, IpPrefix> hosts;
    final List<PolicyRule> rules;
    private final List<PolicyTest> tests;
    private final Map<String, Flat> groups = new java.util.HashMap<>();

    /** A group's members, every nested group taken in. */
    private record Flat(Set<String> nodes, Set<String> users, Set<String> idpGroups) {
    }

    /** Rules by what they name, source side and destination side: a member's rules without a pass over them all. */
    private final Map<String, BitSet> bySource = new java.util.HashMap<>();
    private final Map<String, BitSet> byDestination = new java.util.HashMap<>();
    /** Rules that name an address or prefix, which a member's addresses are checked against. */
    private final List<AddressRule> byAddress = new java.util.ArrayList<>();
    /** The groups a node name, a user and an identity provider's group are in (every nesting taken in). */
    private final Map<String, Set<String>> groupsOf = new java.util.HashMap<>();

    private record AddressRule(IpPrefix prefix, int rule, boolean source) {
    }

    ParsedPolicy(Map<String, List<Selector>> groups, Map<String, List<Selector>> tags, Map<String, IpPrefix> hosts,
            List<PolicyRule> rules, List<PolicyTest> tests) {
        this.tags = tags;
        this.hosts = hosts;
        this.rules = List.copyOf(rules);
        this.tests = List.copyOf(tests);
        for (String g : groups.keySet()) {
            flatten(g, groups);
        }
        for (Map.Entry<String, Flat> g : this.groups.entrySet()) {
            g.getValue().nodes().forEach(n -> groupsOf.computeIfAbsent("node:" + n, k -> new HashSet<>()).add(g.getKey()));
            g.getValue().users().forEach(u -> groupsOf.computeIfAbsent("user:" + u, k -> new HashSet<>()).add(g.getKey()));
            g.getValue().idpGroups().forEach(i -> groupsOf.computeIfAbsent("idp:" + i, k -> new HashSet<>()).add(g.getKey()));
        }
        for (int i = 0; i < this.rules.size(); i++) {
            index(this.rules.get(i).sources(), i, bySource, true);
            index(this.rules.get(i).destinations(), i, byDestination, false);
        }
    }

    private void index(List<Selector> selectors, int rule, Map<String, BitSet> into, boolean source) {
        for (Selector s : selectors) {
            switch (s.kind()) {
                case HOST -> byAddress.add(new AddressRule(hosts.get(s.name()), rule, source));
                case PREFIX -> byAddress.add(new AddressRule(s.prefix(), rule, source));
                default -> into.computeIfAbsent(s.toString(), k -> new BitSet()).set(rule);
            }
        }
    }

    /**
     * The rules that name {@code x} as a source and as a destination, found by what it is (its
     * name, user, groups, tags, addresses), not by trying each rule: the same as {@link #matchesAny}
     * rule by rule. The third set is the first's rules that name it by who it is, not by address.
     */
    BitSet[] rulesNaming(Subject x) {
        BitSet src = new BitSet(rules.size());
        BitSet dst = new BitSet(rules.size());
        List<String> keys = new java.util.ArrayList<>();
        keys.add("*");
        if (!x.name().isEmpty()) {
            keys.add("node:" + x.name());
        }
        if (!x.user().isEmpty()) {
            keys.add("user:" + x.user());
        }
        x.idpGroups().forEach(g -> keys.add("idp:" + g));
        x.tags().forEach(t -> keys.add("tag:" + t));
        Set<String> inGroups = new HashSet<>();
        for (int i = 1; i < keys.size(); i++) {
            Set<String> g = groupsOf.get(keys.get(i));
            if (g != null) {
                inGroups.addAll(g);
            }
        }
        inGroups.forEach(g -> keys.add("group:" + g));
        for (String k : keys) {
            BitSet s = bySource.get(k);
            if (s != null) {
                src.or(s);
            }
            BitSet d = byDestination.get(k);
            if (d != null) {
                dst.or(d);
            }
        }
        BitSet srcByIdentity = (BitSet) src.clone();
        for (AddressRule a : byAddress) {
            if (holdsAddressIn(x, a.prefix())) {
                (a.source() ? src : dst).set(a.rule());
            }
        }
        return new BitSet[] {src, dst, srcByIdentity};
    }

    /** The parser refused cycles, so this ends. */
    private Flat flatten(String group, Map<String, List<Selector>> defined) {
        Flat done = groups.get(group);
        if (done != null) {
            return done;
        }
        Flat f = new Flat(new HashSet<>(), new HashSet<>(), new HashSet<>());
        for (Selector m : defined.get(group)) {
            switch (m.kind()) {
                case NODE -> f.nodes().add(m.name());
                case USER -> f.users().add(m.name());
                case IDP_GROUP -> f.idpGroups().add(m.name());
                case GROUP -> {
                    Flat inner = flatten(m.name(), defined);
                    f.nodes().addAll(inner.nodes());
                    f.users().addAll(inner.users());
                    f.idpGroups().addAll(inner.idpGroups());
                }
                default -> throw new IllegalStateException("the parser lets only node:, user:, idp: and group: into a group");
            }
        }
        groups.put(group, f);
        return f;
    }

    int ruleCount() {
        return rules.size();
    }

    // ---- matching ----

    boolean matches(Selector s, Subject x) {
        return switch (s.kind()) {
            case ANY -> true;
            case NODE -> !x.name().isEmpty() && x.name().equals(s.name());
            case USER -> !x.user().isEmpty() && x.user().equals(s.name());
            case IDP_GROUP -> x.idpGroups().contains(s.name());
            case TAG -> x.tags().contains(s.name());
            case GROUP -> {
                Flat g = groups.get(s.name());
                yield (!x.name().isEmpty() && g.nodes().contains(x.name())) || (!x.user().isEmpty() && g.users().contains(x.user()))
                        || containsAny(g.idpGroups(), x.idpGroups());
            }
            case HOST -> holdsAddressIn(x, hosts.get(s.name()));
            case PREFIX -> holdsAddressIn(x, s.prefix());
        };
    }

    private static boolean containsAny(Set<String> set, Set<String> candidates) {
        if (set.isEmpty()) {
            return false;
        }
        for (String c : candidates) {
            if (set.contains(c)) {
                return true;
            }
        }
        return false;
    }

    private static boolean holdsAddressIn(Subject x, IpPrefix prefix) {
        for (InetAddress a : x.addresses()) {
            if (prefix.contains(a)) {
                return true;
            }
        }
        return false;
    }

    boolean matchesAny(List<Selector> selectors, Subject x) {
        for (Selector s : selectors) {
            if (matches(s, x)) {
                return true;
            }
        }
        return false;
    }

    IpPrefix host(String name) {
        return hosts.get(name);
    }

    static boolean protocolMatches(PolicyRule r, int protocol, int port) {
        if (!r.protocols().isEmpty() && !r.protocols().contains(protocol)) {
            return false;
        }
        if (r.ports().isEmpty()) {
            return true;
        }
        for (PortRange p : r.ports()) {
            if (p.contains(port)) {
                return true;
            }
        }
        return false;
    }

    /**
     * The rules' verdict on a flow from {@code src} to {@code dst}; {@code steps}, when given, hears
     * why each rule before the deciding one did not match.
     */
    Explanation decide(Subject src, Subject dst, int protocol, int port) {
        List<String> steps = new ArrayList<>();
        for (PolicyRule r : rules) {
            String miss = !matchesAny(r.sources(), src) ? "source " + src.shown() + " is not in " + names(r.sources())
                    : !matchesAny(r.destinations(), dst) ? "destination " + dst.shown() + " is not in " + names(r.destinations())
                    : !protocolMatches(r, protocol, port) ? flowText(protocol, port) + " is not " + protocolText(r)
                    : null;
            if (miss == null) {
                steps.add(r.label() + ": matches, " + (r.accept() ? "accept" : "deny"));
                return new Explanation(r.accept(), r.label(), steps);
            }
            steps.add(r.label() + ": no match, " + miss);
        }
        steps.add("no rule matched: default deny");
        return new Explanation(false, "no rule matched: default deny", steps);
    }

    private static String names(List<Selector> selectors) {
        return selectors.stream().map(Selector::toString).collect(Collectors.joining(", ", "[", "]"));
    }

    static String flowText(int protocol, int port) {
        String p = protocolName(protocol);
        return protocol == FilterRule.TCP || protocol == FilterRule.UDP ? p + "/" + port : p;
    }

    static String protocolText(PolicyRule r) {
        String protos = r.protocols().isEmpty() ? "any protocol"
                : r.protocols().stream().sorted().map(ParsedPolicy::protocolName).collect(Collectors.joining(" or "));
        return r.ports().isEmpty() ? protos
                : protos + " to port " + r.ports().stream().map(PortRange::toString).collect(Collectors.joining(", "));
    }

    static String protocolName(int protocol) {
        return switch (protocol) {
            case FilterRule.TCP -> "tcp";
            case FilterRule.UDP -> "udp";
            case FilterRule.ICMP -> "icmp";
            case FilterRule.ICMPV6 -> "icmpv6";
            default -> "protocol " + protocol;
        };
    }

    static int protocolNumber(String name) {
        return switch (name) {
            case "tcp" -> FilterRule.TCP;
            case "udp" -> FilterRule.UDP;
            case "icmp" -> FilterRule.ICMP;
            case "icmpv6" -> FilterRule.ICMPV6;
            default -> throw new IllegalArgumentException("protocol '" + Selector.shown(name) + "' is not tcp, udp, icmp or icmpv6");
        };
    }

    // ---- ends of a flow named in a test or an explanation ----

    /**
     * The members {@code text} names (a node name, {@code node:}, {@code user:}, {@code tag:},
     * {@code idp:}, {@code group:}, {@code host:}, or an address); when it names none now, one that
     * would be so named, so that a policy can be tested before its nodes exist.
     */
    List<Subject> resolve(String text, Collection<Member> members) {
        Selector s;
        try {
            s = Selector.parseEnd(text, 0);
        } catch (PolicyException e) {
            throw new IllegalArgumentException(e.getMessage());
        }
        if (s.kind() == Selector.Kind.ANY) {
            throw new IllegalArgumentException("name one source or destination, not *");
        }
        if (s.kind() == Selector.Kind.GROUP && !groups.containsKey(s.name())) {
            throw new IllegalArgumentException("unknown group '" + s + "'");
        }
        if (s.kind() == Selector.Kind.HOST && !hosts.containsKey(s.name())) {
            throw new IllegalArgumentException("unknown host '" + s + "'");
        }
        List<Subject> found = new ArrayList<>();
        for (Member m : members) {
            Subject x = Subject.of(m);
            if (matches(s, x)) {
                found.add(x);
            }
        }
        if (!found.isEmpty()) {
            return found;
        }
        return List.of(switch (s.kind()) {
            case NODE -> new Subject(s.toString(), s.name(), "", Set.of(), Set.of(), List.of());
            case USER -> new Subject(s.toString(), "", s.name(), Set.of(), Set.of(), List.of());
            case IDP_GROUP -> new Subject(s.toString(), "", "", Set.of(s.name()), Set.of(), List.of());
            case TAG -> new Subject(s.toString(), "", "", Set.of(), Set.of(s.name()), List.of());
            case HOST -> new Subject(s.toString(), "", "", Set.of(), Set.of(), List.of(hosts.get(s.name()).address()));
            case PREFIX -> Subject.address(s.prefix().address());
            case GROUP -> throw new IllegalArgumentException(s + " has no member now");
            case ANY -> throw new IllegalStateException("refused above");
        });
    }

    // ---- PolicyCompiler.Policy ----

    @Override
    public void test(Collection<Member> members) throws PolicyException {
        for (PolicyTest t : tests) {
            List<Subject> sources;
            try {
                sources = resolve(t.source(), members);
            } catch (IllegalArgumentException e) {
                throw new PolicyException(t.line(), "test: " + e.getMessage());
            }
            for (PolicyTest.Expectation x : t.expectations()) {
                List<Subject> destinations;
                try {
                    destinations = resolve(x.destination(), members);
                } catch (IllegalArgumentException e) {
                    throw new PolicyException(x.line(), "test: " + e.getMessage());
                }
                int protocol = protocolNumber(x.protocol());
                for (Subject src : sources) {
                    for (Subject dst : destinations) {
                        Explanation e = decide(src, dst, protocol, x.port());
                        if (e.accepted() != x.accepted()) {
                            throw new PolicyException(x.line(), "test failed: " + src.shown() + " should " + (x.accepted() ? "" : "not ")
                                    + "reach " + dst.shown() + " " + flowText(protocol, x.port()) + ", but "
                                    + (e.accepted() ? e.decidedBy() + " accepts it" : e.decidedBy().startsWith("rule")
                                    ? e.decidedBy() + " denies it" : "no rule accepts it (default deny)"));
                        }
                    }
                }
            }
        }
    }

    @Override
    public PolicyCompiler.CompiledPolicy compile(long version, Collection<Member> members) {
        return new CompiledTenantPolicy(this, version, members);
    }
}
