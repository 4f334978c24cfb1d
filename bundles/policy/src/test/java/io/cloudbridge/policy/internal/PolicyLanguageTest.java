package io.cloudbridge.policy.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.api.net.IpPrefix;
import io.cloudbridge.api.policy.Explanation;
import io.cloudbridge.api.policy.FilterRule;
import io.cloudbridge.api.policy.Member;
import io.cloudbridge.api.policy.NodeFilter;
import io.cloudbridge.api.policy.PolicyCompiler;
import io.cloudbridge.api.policy.PolicyException;
import io.cloudbridge.api.policy.PortRange;
import java.net.InetAddress;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class PolicyLanguageTest {
    private final PolicyCompiler compiler = new YamlPolicyCompiler();

    static final String POLICY = """
            groups:
              group:eng: [user:alice, idp:engineering]
              group:app: [node:app-1, node:app-2]
              group:staff: [group:eng, node:printer]
            tags:
              tag:db: [group:eng]
              tag:build: [user:alice]
            hosts:
              office: 100.64.0.0/30
            rules:
              - name: no ssh to the database
                action: deny
                src: [group:eng]
                dst: [tag:db]
                ports: [22]
              - name: eng anywhere
                action: accept
                src: [group:eng]
                dst: ["*"]
              - name: app to db
                action: accept
                src: [group:app]
                dst: [tag:db]
                proto: tcp
                ports: [5432, 9000-9100]
              - action: accept
                src: [host:office]
                dst: [tag:build]
                proto: [icmp, icmpv6]
            tests:
              - src: node:app-1
                accept: [tag:db:5432/tcp, "tag:db:9050/tcp"]
                deny: [tag:db:22/tcp, tag:db:5432/udp, tag:build:22/tcp]
              - src: user:alice
                accept: [tag:build:80/tcp]
                deny: [tag:db:22/tcp]
            """;

    static Member member(String id, String name, String user, Set<String> idp, Set<String> tags, String v4, String v6) throws Exception {
        return new Member(id, name, user, idp, tags, List.of(InetAddress.getByName(v4), InetAddress.getByName(v6)));
    }

    static List<Member> members() throws Exception {
        return List.of(
                member("n-laptop", "laptop", "alice", Set.of(), Set.of(), "100.64.0.1", "fd7a::1"),
                member("n-bob", "bob-pc", "bob", Set.of("engineering"), Set.of(), "100.64.0.9", "fd7a::9"),
                member("n-app1", "app-1", "", Set.of(), Set.of(), "100.64.0.5", "fd7a::5"),
                member("n-app2", "app-2", "", Set.of(), Set.of(), "100.64.0.6", "fd7a::6"),
                member("n-db", "db-1", "", Set.of(), Set.of("db"), "100.64.0.7", "fd7a::7"),
                member("n-build", "build-1", "", Set.of(), Set.of("build"), "100.64.0.8", "fd7a::8"),
                member("n-lonely", "lonely", "", Set.of(), Set.of(), "100.64.0.20", "fd7a::20"));
    }

    @Test
    void aPolicyPassesItsTestsAndCompilesPerNode() throws Exception {
        PolicyCompiler.Policy p = compiler.parse(POLICY);
        p.test(members());
        PolicyCompiler.CompiledPolicy c = p.compile(3, members());
        NodeFilter db = c.filterFor("n-db");
        assertEquals(3, db.policyVersion());
        // The deny, eng's accept and the app rule name the database; the office rule does not.
        assertEquals(List.of(1, 2, 3), db.rules().stream().map(FilterRule::position).toList());
        FilterRule deny = db.rules().get(0);
        assertFalse(deny.accept());
        assertEquals("no ssh to the database", deny.name());
        // group:eng is alice (by user) and bob (by the identity provider's group), v4 and v6.
        assertEquals(Set.of(IpPrefix.parse("100.64.0.1/32"), IpPrefix.parse("fd7a::1/128"), IpPrefix.parse("100.64.0.9/32"),
                IpPrefix.parse("fd7a::9/128")), Set.copyOf(deny.sources()));
        assertEquals(Set.of(IpPrefix.parse("100.64.0.7/32"), IpPrefix.parse("fd7a::7/128")), Set.copyOf(deny.destinations()));
        assertEquals(Set.of(FilterRule.TCP, FilterRule.UDP), deny.protocols()); // ports without proto: tcp and udp
        FilterRule app = db.rules().get(2);
        assertEquals(List.of(new PortRange(5432, 5432), new PortRange(9000, 9100)), app.ports());
        assertEquals(Set.of(FilterRule.TCP), app.protocols());
        // The build server: eng's accept (dst *), and the office's ICMP by its IPv4 address only.
        NodeFilter build = c.filterFor("n-build");
        assertEquals(List.of(2, 4), build.rules().stream().map(FilterRule::position).toList());
        assertEquals(List.of(IpPrefix.parse("100.64.0.0/30")), build.rules().get(1).sources());
        assertEquals(Set.of(FilterRule.ICMP, FilterRule.ICMPV6), build.rules().get(1).protocols());
    }

    @Test
    void nodesSeeOnlyThoseTheyMayReachOrBeReachedBy() throws Exception {
        PolicyCompiler.CompiledPolicy c = compiler.parse(POLICY).compile(1, members());
        assertTrue(c.visible("n-app1", "n-db"));
        assertTrue(c.visible("n-db", "n-app1"), "either direction makes both visible: replies need the peer");
        assertFalse(c.visible("n-app1", "n-app2"), "no rule between the app servers");
        assertTrue(c.visible("n-lonely", "n-laptop"), "eng may reach everyone");
        assertFalse(c.visible("n-lonely", "n-db"));
        assertFalse(c.visible("n-lonely", "nobody"));
        assertTrue(c.filterFor("nobody").rules().isEmpty(), "a member the policy does not know lets nothing in");
    }

    @Test
    void explainNamesTheDecidingRuleAndWhyEachEarlierOneMissed() throws Exception {
        PolicyCompiler.CompiledPolicy c = compiler.parse(POLICY).compile(1, members());
        Explanation e = c.explain("app-1", "db-1", "tcp", 22);
        assertFalse(e.accepted());
        assertEquals("no rule matched: default deny", e.decidedBy());
        assertTrue(e.steps().get(1).contains("rule 1 (no ssh to the database): no match, source node:app-1 is not in [group:eng]"),
                e.steps().toString());
        assertTrue(e.steps().get(3).contains("tcp/22 is not tcp to port 5432, 9000-9100"), e.steps().toString());
        Explanation ssh = c.explain("100.64.0.1", "tag:db", "tcp", 22);
        assertFalse(ssh.accepted());
        assertEquals("rule 1 (no ssh to the database)", ssh.decidedBy());
        Explanation web = c.explain("laptop", "fd7a::7", "tcp", 443);
        assertTrue(web.accepted());
        assertEquals("rule 2 (eng anywhere)", web.decidedBy());
        assertTrue(c.explain("100.64.0.2", "build-1", "icmp", 0).accepted(), "the office by address");
        assertThrows(IllegalArgumentException.class, () -> c.explain("laptop", "db-1", "sctp", 1));
        assertThrows(IllegalArgumentException.class, () -> c.explain("laptop", "db-1", "tcp", 70000));
        assertThrows(IllegalArgumentException.class, () -> c.explain("group:nope", "db-1", "tcp", 1));
    }

    @Test
    void aFailingTestIsRefusedWithItsLineAndTheRuleThatDecided() throws Exception {
        String failing = POLICY + """
                  - src: node:app-2
                    accept: [build-1:22/tcp]
                """;
        PolicyCompiler.Policy p = compiler.parse(failing);
        PolicyException e = assertThrows(PolicyException.class, () -> p.test(members()));
        assertEquals(38, e.line(), e.getMessage()); // the accept line of the appended test
        assertTrue(e.getMessage().contains("node:app-2 should reach node:build-1 tcp/22, but no rule accepts it"), e.getMessage());
        String denied = POLICY + """
                  - src: user:alice
                    accept: [db-1:22/tcp]
                """;
        PolicyException d = assertThrows(PolicyException.class, () -> compiler.parse(denied).test(members()));
        assertTrue(d.getMessage().contains("rule 1 (no ssh to the database) denies it"), d.getMessage());
    }

    @Test
    void testsRunBeforeTheNodesExist() throws Exception {
        compiler.parse(POLICY).test(List.of()); // hypothetical members: a node named app-1, a node tagged db
    }

    @Test
    void everyMistakeIsRefusedWithItsLine() {
        assertRefused("rules:\n  - action: accept\n    src: [group:nope]\n    dst: ['*']\n", 3, "unknown group 'group:nope'");
        assertRefused("rules:\n  - action: accept\n    src: ['*']\n    dst: [tag:nope]\n", 4, "unknown tag 'tag:nope'");
        assertRefused("rules:\n  - action: accept\n    src: ['*']\n    dst: [host:nope]\n", 4, "unknown host 'host:nope'");
        assertRefused("groups:\n  group:a: [group:b]\n  group:b: [node:x, group:c]\n  group:c: [group:a]\nrules: []\n", 2,
                "membership cycle: group:a -> group:b -> group:c -> group:a");
        assertRefused("groups:\n  group:a: [group:a]\nrules: []\n", 2, "membership cycle: group:a -> group:a");
        assertRefused("rules:\n  - action: accept\n    src: ['*']\n    dst: ['*']\n    ports: [0]\n", 5, "out of range");
        assertRefused("rules:\n  - action: accept\n    src: ['*']\n    dst: ['*']\n    ports: [65536]\n", 5, "out of range");
        assertRefused("rules:\n  - action: accept\n    src: ['*']\n    dst: ['*']\n    ports: [90-80]\n", 5, "ends before it starts");
        assertRefused("rules:\n  - action: accept\n    src: ['*']\n    dst: ['*']\n    proto: icmp\n    ports: [22]\n", 6,
                "ports apply to tcp and udp only");
        assertRefused("rules:\n  - action: accept\n    src: ['*']\n    dst: ['*']\n    proto: sctp\n", 5, "protocol 'sctp'");
        assertRefused("rules:\n  - action: allow\n    src: ['*']\n    dst: ['*']\n", 2, "neither accept nor deny");
        assertRefused("rules:\n  - src: ['*']\n    dst: ['*']\n", 2, "has no action");
        assertRefused("rules:\n  - action: accept\n    src: ['*']\n    dst: ['*']\n    port: 22\n", 5, "unknown key 'port'");
        assertRefused("rules:\n  - action: accept\n    src: [laptop]\n    dst: ['*']\n", 3, "names nothing");
        assertRefused("rules:\n  - action: accept\n    src: []\n    dst: ['*']\n", 3, "src is empty");
        assertRefused("rules:\n  - action: accept\n    src: [10.0.0.0/99]\n    dst: ['*']\n", 3, "not an address or prefix");
        assertRefused("groups:\n  eng: [user:a]\nrules: []\n", 2, "is not group:NAME");
        assertRefused("groups:\n  group:eng: [tag:x]\nrules: []\n", 2, "a group's members are");
        assertRefused("tags:\n  tag:x: [group:nope]\nrules: []\n", 0, "unknown group 'group:nope'");
        assertRefused("acls: []\n", 1, "unknown section 'acls'");
        assertRefused("groups: {}\n", 0, "no 'rules' section");
        assertRefused("rules:\n  - action: accept\n    src: ['*'\n    dst: ['*']\n", 3, "invalid YAML");
        assertRefused("rules:\n  - action: accept\n    action: deny\n    src: ['*']\n    dst: ['*']\n", 3, "has 'action' twice");
        assertRefused("groups:\n  group:a: [user:x]\n  group:a: [user:y]\nrules: []\n", 3, "group:a twice");
        assertRefused("", 0, "the policy is empty");
        assertRefused("rules: []\ntests:\n  - src: node:a\n    accept: [b:22]\n", 4, "is not DESTINATION:PORT/tcp");
        assertRefused("rules: []\ntests:\n  - src: node:a\n", 3, "neither accept nor deny");
        assertRefused("rules: []\ntests:\n  - src: node:a\n    accept: [b:22-23/tcp]\n", 4, "one port, not a range");
    }

    @Test
    void oversizedAndHostileInputIsRefusedCleanly() {
        String big = "rules:\n" + "  - {action: accept, src: ['*'], dst: ['*']}\n".repeat(PolicyCompiler.MAX_POLICY_BYTES / 40);
        assertRefused(big, 0, "larger than");
        String tooMany = "rules:\n" + "  - {action: deny, src: ['*'], dst: ['*']}\n".repeat(PolicyParser.MAX_RULES + 1);
        assertRefused(tooMany, PolicyParser.MAX_RULES + 2, "more than 10000 rules");
        String laughs = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                + "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nrules: []\n";
        assertRefused(laughs, 0, "invalid YAML");
        assertRefused("[".repeat(100_000), 0, "invalid YAML");
        assertRefused("rules:\n  - action: accept\n    src: ['\u0007bell']\n    dst: ['*']\n", 0, "invalid YAML");
        assertRefused("rules:\n  - action: accept\n    src: ['a b']\n    dst: ['*']\n", 3, "'a b' names nothing");
    }

    @Test
    void aMemberChangedInPlaceCompilesAsTheWholeTenantWould() throws Exception {
        PolicyCompiler.Policy p = compiler.parse(POLICY);
        List<Member> all = members();
        // app-2 arrives later, lonely is tagged db afterwards, and bob leaves.
        List<Member> start = all.stream().filter(m -> !m.id().equals("n-app2")).toList();
        PolicyCompiler.CompiledPolicy step = p.compile(5, start);
        step = step.with(all.get(3));
        Member tagged = member("n-lonely", "lonely", "", Set.of(), Set.of("db"), "100.64.0.20", "fd7a::20");
        step = step.with(tagged).without("n-bob");
        List<Member> end = new java.util.ArrayList<>(all.stream().filter(m -> !m.id().equals("n-bob") && !m.id().equals("n-lonely"))
                .toList());
        end.add(tagged);
        PolicyCompiler.CompiledPolicy whole = p.compile(5, end);
        for (Member a : end) {
            assertEquals(whole.filterFor(a.id()), step.filterFor(a.id()), a.name());
            for (Member b : end) {
                assertEquals(whole.visible(a.id(), b.id()), step.visible(a.id(), b.id()), a.name() + " / " + b.name());
            }
        }
        assertTrue(step.visible("n-lonely", "n-app2"), "the tag made lonely a database for the app servers");
        // Who sees whom as bit sets, in a numbering of the caller's, is the same answer.
        List<String> ids = end.stream().map(Member::id).toList();
        for (PolicyCompiler.CompiledPolicy c : List.of(whole, step)) {
            for (Member a : end) {
                java.util.BitSet seen = c.visibleFrom(a.id(), ids::indexOf);
                for (int i = 0; i < ids.size(); i++) {
                    assertEquals(c.visible(a.id(), ids.get(i)), seen.get(i), a.name() + " sees " + ids.get(i));
                }
            }
        }
        assertFalse(step.filterFor("n-db").rules().get(0).sources().contains(IpPrefix.parse("100.64.0.9/32")), "bob left");
    }

    @Test
    void theIndexFindsTheRulesThatTryingEachRuleFinds() throws Exception {
        ParsedPolicy p = (ParsedPolicy) compiler.parse(POLICY);
        List<Member> subjects = new java.util.ArrayList<>(members());
        subjects.add(member("n-x", "printer", "carol", Set.of("engineering", "sales"), Set.of("build", "db"), "100.64.0.3", "fd7a::3"));
        for (Member m : subjects) {
            Subject x = Subject.of(m);
            java.util.BitSet[] named = p.rulesNaming(x);
            for (int i = 0; i < p.rules.size(); i++) {
                assertEquals(p.matchesAny(p.rules.get(i).sources(), x), named[0].get(i), m.name() + " as a source of rule " + (i + 1));
                assertEquals(p.matchesAny(p.rules.get(i).destinations(), x), named[1].get(i), m.name() + " as a destination of " + (i + 1));
            }
        }
    }

    @Test
    void anEmptyRuleListDeniesEverything() throws Exception {
        PolicyCompiler.CompiledPolicy c = compiler.parse("rules: []\n").compile(7, members());
        assertTrue(c.filterFor("n-db").rules().isEmpty());
        assertEquals(7, c.filterFor("n-db").policyVersion());
        assertFalse(c.visible("n-db", "n-app1"));
    }

    private void assertRefused(String text, int line, String reason) {
        PolicyException e = assertThrows(PolicyException.class, () -> compiler.parse(text), text);
        assertTrue(e.getMessage().contains(reason), "'" + e.getMessage() + "' does not say '" + reason + "'");
        assertEquals(line, e.line(), e.getMessage());
    }
}
