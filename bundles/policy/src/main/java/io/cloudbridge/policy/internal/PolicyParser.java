package io.cloudbridge.policy.internal;

import io.cloudbridge.api.net.IpPrefix;
import io.cloudbridge.api.policy.FilterRule;
import io.cloudbridge.api.policy.PolicyCompiler;
import io.cloudbridge.api.policy.PolicyException;
import io.cloudbridge.api.policy.PortRange;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.snakeyaml.engine.v2.api.LoadSettings;
import org.snakeyaml.engine.v2.api.lowlevel.Compose;
import org.snakeyaml.engine.v2.exceptions.MarkedYamlEngineException;
import org.snakeyaml.engine.v2.exceptions.YamlEngineException;
import org.snakeyaml.engine.v2.nodes.MappingNode;
import org.snakeyaml.engine.v2.nodes.Node;
import org.snakeyaml.engine.v2.nodes.NodeTuple;
import org.snakeyaml.engine.v2.nodes.ScalarNode;
import org.snakeyaml.engine.v2.nodes.SequenceNode;

/**
 * Reads a policy file into a {@link ParsedPolicy}, checking everything that does not depend on
 * the tenant's members: the YAML itself, the sections and their keys, each name a rule or group
 * uses (defined, and of a kind that may stand there), membership cycles, protocols and ports. Each
 * refusal names the file's line.
 *
 * <pre>
 * groups:                      # group:NAME: members (node:, user:, idp:, group:)
 *   group:app: [node:app-1, node:app-2]
 *   group:eng: [user:alice@example.com, idp:engineering]
 * tags:                        # tag:NAME: who may give it (group:, user:)
 *   tag:db: [group:eng]
 * hosts:                       # NAME: an address or prefix
 *   office: 100.64.0.0/28
 * rules:                       # in order; the first that matches decides; no match: denied
 *   - name: app to database
 *     action: accept           # or deny
 *     src: [group:app]
 *     dst: [tag:db]
 *     proto: tcp               # tcp, udp, icmp, icmpv6, any (the default), or a list
 *     ports: [5432, 9000-9100] # tcp and udp only; none: every port
 * tests:
 *   - src: node:app-1
 *     accept: [tag:db:5432/tcp]
 *     deny: [tag:db:22/tcp, host:office/icmp]
 * </pre>
 */
final class PolicyParser {
    static final int MAX_RULES = 10_000;
    static final int MAX_NAMES = 10_000;
    static final int MAX_LIST = 100_000;

    private final String text;

    PolicyParser(String text) {
        this.text = text;
    }

    ParsedPolicy parse() throws PolicyException {
        if (text.length() > PolicyCompiler.MAX_POLICY_BYTES) {
            throw new PolicyException(0, "the policy is larger than " + PolicyCompiler.MAX_POLICY_BYTES + " bytes");
        }
        Node root = compose();
        if (root == null) {
            throw new PolicyException(0, "the policy is empty: write at least one rule (a tenant with an empty rule list"
                    + " reaches nothing; relay:policy delete goes back to no policy)");
        }
        MappingNode top = mapping(root, "the policy");
        Map<String, Node> sections = new LinkedHashMap<>();
        for (NodeTuple t : top.getValue()) {
            String key = scalar(t.getKeyNode(), "a section's name");
            if (!Set.of("groups", "tags", "hosts", "rules", "tests").contains(key)) {
                throw new PolicyException(line(t.getKeyNode()), "unknown section '" + Selector.shown(key)
                        + "' (sections: groups, tags, hosts, rules, tests)");
            }
            if (sections.put(key, t.getValueNode()) != null) {
                throw new PolicyException(line(t.getKeyNode()), "section '" + key + "' twice");
            }
        }
        Map<String, List<Selector>> groups = new LinkedHashMap<>();
        Map<String, Integer> groupLines = new LinkedHashMap<>();
        if (sections.containsKey("groups")) {
            for (NodeTuple t : entries(sections.get("groups"), "groups")) {
                String name = prefixedName(t.getKeyNode(), "group:");
                List<Selector> members = new ArrayList<>();
                for (Node m : list(t.getValueNode(), "the members of group:" + name)) {
                    Selector s = Selector.parse(scalar(m, "a member"), line(m));
                    if (s.kind() != Selector.Kind.NODE && s.kind() != Selector.Kind.USER && s.kind() != Selector.Kind.IDP_GROUP
                            && s.kind() != Selector.Kind.GROUP) {
                        throw new PolicyException(line(m), "group:" + name + " lists '" + s + "': a group's members are node:,"
                                + " user:, idp: and group: names");
                    }
                    members.add(s);
                }
                if (groups.put(name, members) != null) {
                    throw new PolicyException(line(t.getKeyNode()), "group:" + name + " twice");
                }
                groupLines.put(name, line(t.getKeyNode()));
            }
        }
        Map<String, List<Selector>> tags = new LinkedHashMap<>();
        if (sections.containsKey("tags")) {
            for (NodeTuple t : entries(sections.get("tags"), "tags")) {
                String name = prefixedName(t.getKeyNode(), "tag:");
                List<Selector> owners = new ArrayList<>();
                for (Node o : list(t.getValueNode(), "the owners of tag:" + name)) {
                    Selector s = Selector.parse(scalar(o, "an owner"), line(o));
                    if (s.kind() != Selector.Kind.GROUP && s.kind() != Selector.Kind.USER) {
                        throw new PolicyException(line(o), "tag:" + name + " is owned by '" + s + "': owners are group: and user: names");
                    }
                    owners.add(s);
                }
                if (tags.put(name, owners) != null) {
                    throw new PolicyException(line(t.getKeyNode()), "tag:" + name + " twice");
                }
            }
        }
        Map<String, IpPrefix> hosts = new LinkedHashMap<>();
        if (sections.containsKey("hosts")) {
            for (NodeTuple t : entries(sections.get("hosts"), "hosts")) {
                String name = scalar(t.getKeyNode(), "a host's name");
                if (!Selector.NAME.matcher(name).matches()) {
                    throw new PolicyException(line(t.getKeyNode()), "host name '" + Selector.shown(name)
                            + "' is not 1-128 of A-Z a-z 0-9 . _ @ + = -");
                }
                String value = scalar(t.getValueNode(), "host " + name + "'s address");
                Selector s = Selector.parse(value, line(t.getValueNode()));
                if (s.kind() != Selector.Kind.PREFIX) {
                    throw new PolicyException(line(t.getValueNode()), "host " + name + " is '" + Selector.shown(value)
                            + "': a host is an address or a prefix");
                }
                if (hosts.put(name, s.prefix()) != null) {
                    throw new PolicyException(line(t.getKeyNode()), "host " + name + " twice");
                }
            }
        }
        // Every name a group or tag uses is defined, before any rule is read: the first unknown
        // name is reported where it is written.
        for (Map.Entry<String, List<Selector>> g : groups.entrySet()) {
            checkDefined(g.getValue(), groups, tags, hosts, groupLines.get(g.getKey()));
        }
        for (Map.Entry<String, List<Selector>> t : tags.entrySet()) {
            checkDefined(t.getValue(), groups, tags, hosts, 0);
        }
        checkCycles(groups, groupLines);
        if (!sections.containsKey("rules")) {
            throw new PolicyException(0, "the policy has no 'rules' section: write at least one rule");
        }
        List<PolicyRule> rules = new ArrayList<>();
        for (Node r : list(sections.get("rules"), "rules")) {
            if (rules.size() >= MAX_RULES) {
                throw new PolicyException(line(r), "more than " + MAX_RULES + " rules");
            }
            rules.add(rule(r, rules.size() + 1, groups, tags, hosts));
        }
        List<PolicyTest> tests = new ArrayList<>();
        if (sections.containsKey("tests")) {
            for (Node t : list(sections.get("tests"), "tests")) {
                tests.add(test(t));
            }
        }
        return new ParsedPolicy(groups, tags, hosts, rules, tests);
    }

    private Node compose() throws PolicyException {
        try {
            LoadSettings settings = LoadSettings.builder().setLabel("policy").setAllowDuplicateKeys(false)
                    .setMaxAliasesForCollections(10).setCodePointLimit(PolicyCompiler.MAX_POLICY_BYTES).build();
            return new Compose(settings).composeString(text).orElse(null);
        } catch (MarkedYamlEngineException e) {
            int problemLine = e.getProblemMark().map(m -> m.getLine() + 1).orElse(0);
            int line = e.getContextMark().map(m -> m.getLine() + 1).orElse(problemLine);
            throw new PolicyException(line, "invalid YAML: " + (e.getContext() == null ? "" : e.getContext() + ": ") + e.getProblem()
                    + (line != problemLine ? " (at line " + problemLine + ")" : ""));
        } catch (YamlEngineException | IllegalArgumentException e) {
            throw new PolicyException(0, "invalid YAML: " + Selector.shown(String.valueOf(e.getMessage())));
        } catch (StackOverflowError deep) {
            throw new PolicyException(0, "invalid YAML: nested too deeply");
        }
    }

    private PolicyRule rule(Node node, int position, Map<String, List<Selector>> groups, Map<String, List<Selector>> tags,
            Map<String, IpPrefix> hosts) throws PolicyException {
        MappingNode m = mapping(node, "rule " + position);
        Map<String, Node> fields = fields(m, "rule " + position, Set.of("name", "action", "src", "dst", "proto", "ports"));
        String name = fields.containsKey("name") ? scalar(fields.get("name"), "a rule's name") : "";
        if (name.length() > 128 || name.chars().anyMatch(Character::isISOControl)) {
            throw new PolicyException(line(fields.get("name")), "a rule's name is at most 128 characters, on one line");
        }
        if (!fields.containsKey("action")) {
            throw new PolicyException(line(node), "rule " + position + " has no action: write action: accept or action: deny");
        }
        String action = scalar(fields.get("action"), "an action");
        if (!action.equals("accept") && !action.equals("deny")) {
            throw new PolicyException(line(fields.get("action")), "action '" + Selector.shown(action) + "' is neither accept nor deny");
        }
        for (String needed : List.of("src", "dst")) {
            if (!fields.containsKey(needed)) {
                throw new PolicyException(line(node), "rule " + position + " has no " + needed);
            }
        }
        List<Selector> src = selectors(fields.get("src"), "src");
        List<Selector> dst = selectors(fields.get("dst"), "dst");
        checkDefined(src, groups, tags, hosts, line(fields.get("src")));
        checkDefined(dst, groups, tags, hosts, line(fields.get("dst")));
        Set<Integer> protocols = fields.containsKey("proto") ? protocols(fields.get("proto")) : Set.of();
        List<PortRange> ports = fields.containsKey("ports") ? ports(fields.get("ports")) : List.of();
        if (!ports.isEmpty()) {
            if (protocols.isEmpty()) {
                protocols = Set.of(FilterRule.TCP, FilterRule.UDP); // ports are TCP's and UDP's: "any" with ports is both
            } else if (!Set.of(FilterRule.TCP, FilterRule.UDP).containsAll(protocols)) {
                throw new PolicyException(line(fields.get("ports")), "ports apply to tcp and udp only; rule " + position
                        + " names another protocol");
            }
        }
        return new PolicyRule(position, name, action.equals("accept"), src, dst, protocols, ports, line(node));
    }

    private List<Selector> selectors(Node node, String what) throws PolicyException {
        List<Selector> out = new ArrayList<>();
        for (Node n : scalarOrList(node, what)) {
            out.add(Selector.parse(scalar(n, what), line(n)));
        }
        if (out.isEmpty()) {
            throw new PolicyException(line(node), what + " is empty: name at least one source or destination");
        }
        return out;
    }

    private static void checkDefined(List<Selector> selectors, Map<String, List<Selector>> groups, Map<String, List<Selector>> tags,
            Map<String, IpPrefix> hosts, int line) throws PolicyException {
        for (Selector s : selectors) {
            boolean known = switch (s.kind()) {
                case GROUP -> groups.containsKey(s.name());
                case TAG -> tags.containsKey(s.name());
                case HOST -> hosts.containsKey(s.name());
                default -> true;
            };
            if (!known) {
                String section = s.kind() == Selector.Kind.GROUP ? "groups" : s.kind() == Selector.Kind.TAG ? "tags" : "hosts";
                throw new PolicyException(line, "unknown " + s.kind().name().toLowerCase(Locale.ROOT) + " '" + s + "': it is not in "
                        + section);
            }
        }
    }

    /** A group that contains itself, through any number of others, is refused with the whole loop named. */
    private static void checkCycles(Map<String, List<Selector>> groups, Map<String, Integer> lines) throws PolicyException {
        Map<String, Integer> state = new java.util.HashMap<>(); // 1: on the current path, 2: done
        for (String g : groups.keySet()) {
            List<String> path = new ArrayList<>();
            visit(g, groups, state, path, lines);
        }
    }

    private static void visit(String group, Map<String, List<Selector>> groups, Map<String, Integer> state, List<String> path,
            Map<String, Integer> lines) throws PolicyException {
        Integer s = state.get(group);
        if (s != null && s == 2) {
            return;
        }
        path.add("group:" + group);
        if (s != null) {
            List<String> loop = path.subList(path.indexOf("group:" + group), path.size());
            throw new PolicyException(lines.getOrDefault(group, 0), "membership cycle: " + String.join(" -> ", loop));
        }
        state.put(group, 1);
        for (Selector m : groups.get(group)) {
            if (m.kind() == Selector.Kind.GROUP) {
                visit(m.name(), groups, state, path, lines);
            }
        }
        state.put(group, 2);
        path.remove(path.size() - 1);
    }

    private Set<Integer> protocols(Node node) throws PolicyException {
        Set<Integer> out = new LinkedHashSet<>();
        for (Node n : scalarOrList(node, "proto")) {
            String p = scalar(n, "a protocol").toLowerCase(Locale.ROOT);
            switch (p) {
                case "any" -> {
                    return Set.of();
                }
                case "tcp" -> out.add(FilterRule.TCP);
                case "udp" -> out.add(FilterRule.UDP);
                case "icmp" -> out.add(FilterRule.ICMP);
                case "icmpv6" -> out.add(FilterRule.ICMPV6);
                default -> throw new PolicyException(line(n), "protocol '" + Selector.shown(p) + "' is not tcp, udp, icmp, icmpv6 or any");
            }
        }
        if (out.isEmpty()) {
            throw new PolicyException(line(node), "proto is empty: leave it out for any protocol");
        }
        return out;
    }

    private List<PortRange> ports(Node node) throws PolicyException {
        List<PortRange> out = new ArrayList<>();
        for (Node n : scalarOrList(node, "ports")) {
            out.add(port(scalar(n, "a port"), line(n)));
        }
        if (out.isEmpty()) {
            throw new PolicyException(line(node), "ports is empty: leave it out for every port");
        }
        return out;
    }

    static PortRange port(String text, int line) throws PolicyException {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(\\d{1,5})(?:-(\\d{1,5}))?").matcher(text.trim());
        if (!m.matches()) {
            throw new PolicyException(line, "port '" + Selector.shown(text) + "' is not a number or a range such as 8000-8999");
        }
        int first = Integer.parseInt(m.group(1));
        int last = m.group(2) == null ? first : Integer.parseInt(m.group(2));
        if (first < 1 || last > 65_535) {
            throw new PolicyException(line, "port " + Selector.shown(text) + " is out of range: ports are 1-65535");
        }
        if (first > last) {
            throw new PolicyException(line, "port range " + Selector.shown(text) + " ends before it starts");
        }
        return new PortRange(first, last);
    }

    private PolicyTest test(Node node) throws PolicyException {
        MappingNode m = mapping(node, "a test");
        Map<String, Node> fields = fields(m, "a test", Set.of("src", "accept", "deny"));
        if (!fields.containsKey("src")) {
            throw new PolicyException(line(node), "a test has no src");
        }
        String src = scalar(fields.get("src"), "a test's src");
        Selector.parseEnd(src, line(fields.get("src"))); // read now: a typo is the file's error, not a failed test
        List<PolicyTest.Expectation> expectations = new ArrayList<>();
        for (String verdict : List.of("accept", "deny")) {
            if (fields.containsKey(verdict)) {
                for (Node n : scalarOrList(fields.get(verdict), verdict)) {
                    expectations.add(expectation(verdict.equals("accept"), scalar(n, "a destination"), line(n)));
                }
            }
        }
        if (expectations.isEmpty()) {
            throw new PolicyException(line(node), "a test has neither accept nor deny");
        }
        return new PolicyTest(src, expectations, line(node));
    }

    /** {@code DESTINATION:PORT/PROTOCOL}, or {@code DESTINATION/PROTOCOL} for ICMP; IPv6 addresses in brackets. */
    static PolicyTest.Expectation expectation(boolean accepted, String written, int line) throws PolicyException {
        int slash = written.lastIndexOf('/');
        String protocol = slash < 0 ? "" : written.substring(slash + 1).toLowerCase(Locale.ROOT);
        String rest = slash < 0 ? written : written.substring(0, slash);
        if (!Set.of("tcp", "udp", "icmp", "icmpv6").contains(protocol)) {
            throw new PolicyException(line, "'" + Selector.shown(written) + "' is not DESTINATION:PORT/tcp, DESTINATION:PORT/udp or"
                    + " DESTINATION/icmp (IPv6 addresses in brackets)");
        }
        int port = 0;
        String destination = rest;
        if (protocol.equals("tcp") || protocol.equals("udp")) {
            int colon = rest.lastIndexOf(':');
            if (colon < 0) {
                throw new PolicyException(line, "'" + Selector.shown(written) + "' has no port");
            }
            PortRange p = port(rest.substring(colon + 1), line);
            if (p.first() != p.last()) {
                throw new PolicyException(line, "a test names one port, not a range: '" + Selector.shown(written) + "'");
            }
            port = p.first();
            destination = rest.substring(0, colon);
        }
        if (destination.startsWith("[") && destination.endsWith("]")) {
            destination = destination.substring(1, destination.length() - 1);
        }
        Selector.parseEnd(destination, line);
        return new PolicyTest.Expectation(accepted, destination, protocol, port, written, line);
    }

    // ---- YAML shapes ----

    private static int line(Node node) {
        return node.getStartMark().map(m -> m.getLine() + 1).orElse(0);
    }

    private static MappingNode mapping(Node node, String what) throws PolicyException {
        if (node instanceof MappingNode m) {
            return m;
        }
        throw new PolicyException(line(node), what + " must be a map of keys to values");
    }

    private static List<NodeTuple> entries(Node node, String what) throws PolicyException {
        if (node instanceof ScalarNode s && s.getValue().isEmpty()) {
            return List.of(); // "groups:" with nothing under it
        }
        List<NodeTuple> out = mapping(node, what).getValue();
        if (out.size() > MAX_NAMES) {
            throw new PolicyException(line(node), what + " has more than " + MAX_NAMES + " entries");
        }
        return out;
    }

    private static List<Node> list(Node node, String what) throws PolicyException {
        if (node instanceof SequenceNode s) {
            if (s.getValue().size() > MAX_LIST) {
                throw new PolicyException(line(node), what + " has more than " + MAX_LIST + " entries");
            }
            return s.getValue();
        }
        if (node instanceof ScalarNode s && s.getValue().isEmpty()) {
            return List.of();
        }
        throw new PolicyException(line(node), what + " must be a list");
    }

    private static List<Node> scalarOrList(Node node, String what) throws PolicyException {
        return node instanceof ScalarNode s && !s.getValue().isEmpty() ? List.of(node) : list(node, what);
    }

    private static String scalar(Node node, String what) throws PolicyException {
        if (node instanceof ScalarNode s) {
            if (s.getValue().length() > 1024) {
                throw new PolicyException(line(node), what + " is longer than 1024 characters");
            }
            return s.getValue();
        }
        throw new PolicyException(line(node), what + " must be a single value, not a list or a map");
    }

    private static String prefixedName(Node key, String prefix) throws PolicyException {
        String text = scalar(key, "a " + prefix + " name");
        if (!text.startsWith(prefix) || !Selector.NAME.matcher(text.substring(prefix.length())).matches()) {
            throw new PolicyException(line(key), "'" + Selector.shown(text) + "' is not " + prefix + "NAME (1-128 of A-Z a-z 0-9 . _ @ + = -)");
        }
        return text.substring(prefix.length());
    }

    private static Map<String, Node> fields(MappingNode m, String what, Set<String> allowed) throws PolicyException {
        Map<String, Node> out = new LinkedHashMap<>();
        for (NodeTuple t : m.getValue()) {
            String key = scalar(t.getKeyNode(), "a key");
            if (!allowed.contains(key)) {
                throw new PolicyException(line(t.getKeyNode()), what + " has an unknown key '" + Selector.shown(key) + "' (keys: "
                        + String.join(", ", new java.util.TreeSet<>(allowed)) + ")");
            }
            if (out.put(key, t.getValueNode()) != null) {
                throw new PolicyException(line(t.getKeyNode()), what + " has '" + key + "' twice");
            }
        }
        return out;
    }
}
