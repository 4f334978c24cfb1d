package io.cloudbridge.filter.internal;

import static io.cloudbridge.filter.internal.FilterTestKit.TCP;
import static io.cloudbridge.filter.internal.FilterTestKit.filter;
import static io.cloudbridge.filter.internal.FilterTestKit.rule;
import static io.cloudbridge.filter.internal.Packets.ACK;
import static io.cloudbridge.filter.internal.Packets.NODE4;
import static io.cloudbridge.filter.internal.Packets.PEER4;
import static io.cloudbridge.filter.internal.Packets.SYN;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.api.policy.NodeFilter;
import io.cloudbridge.api.runtime.RuntimeEnvironment;
import io.cloudbridge.filter.internal.FilterTestKit.ManualClock;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The component: the filter kept across restarts, fail closed without one, its meters and its command. */
class NodeFilterServiceTest {
    @TempDir
    Path state;

    private final ManualClock clock = new ManualClock();
    private final List<String> log = new ArrayList<>();

    @Test
    void theFilterInForceIsKeptAndEnforcedAfterARestart() {
        NodeFilterService before = service(store());
        before.install(StatefulFilterTest.POLICY);

        NodeFilterService after = service(store());
        assertEquals(StatefulFilterTest.POLICY, after.installed());
        assertTrue(in(after, Packets.tcp(PEER4, 40_000, NODE4, 22, SYN)));
        assertFalse(in(after, Packets.tcp(PEER4, 40_001, NODE4, 23, SYN)));

        before.install(NodeFilter.OPEN);
        assertEquals(NodeFilter.OPEN, service(store()).installed(), "no policy is kept too: the node stays open");
    }

    @Test
    void aDamagedKeptFilterLeavesTheNodeFailClosedUntilTheNextInstall() throws IOException {
        Path file = state.resolve(NodeFilterService.FILE_NAME);
        String good = FilterText.write(StatefulFilterTest.POLICY);
        byte[] noise = new byte[4096];
        new Random(3).nextBytes(noise);
        List<byte[]> damaged = List.of(noise, good.substring(0, good.length() / 2).getBytes(),
                good.replace("cloudbridge-node-filter 1", "cloudbridge-node-filter 9").getBytes(),
                good.replace("name=ssh", "name=ssh\u00e9").getBytes(java.nio.charset.StandardCharsets.UTF_8),
                new byte[FilterStore.MAX_FILE_BYTES + 1]);
        for (byte[] content : damaged) {
            Files.write(file, content);
            NodeFilterService s = service(store());
            assertNull(s.installed());
            assertFalse(in(s, Packets.tcp(PEER4, 40_000, NODE4, 22, SYN)), "fail closed");
            out(s, Packets.tcp(NODE4, 41_000, PEER4, 443, SYN));
            assertTrue(in(s, Packets.tcp(PEER4, 443, NODE4, 41_000, SYN | ACK)), "the node's own flows still work");
        }
        Files.delete(file);
        Files.createDirectory(file);
        assertNull(service(store()).installed(), "a folder where the file should be");
        Files.delete(file);

        Files.writeString(file, "garbage");
        NodeFilterService s = service(store());
        s.install(StatefulFilterTest.POLICY);
        assertEquals(StatefulFilterTest.POLICY, service(store()).installed(), "the next install replaces the damaged file");
    }

    @Test
    void theSameFilterAgainChangesNothing() throws IOException {
        NodeFilterService s = service(store());
        s.install(StatefulFilterTest.POLICY);
        assertTrue(in(s, Packets.tcp(PEER4, 40_000, NODE4, 22, SYN)));
        Path file = state.resolve(NodeFilterService.FILE_NAME);
        FileTime written = FileTime.fromMillis(1_000_000);
        Files.setLastModifiedTime(file, written);

        s.install(filter(7, StatefulFilterTest.POLICY.rules().toArray(new io.cloudbridge.api.policy.FilterRule[0])));
        assertEquals(written, Files.getLastModifiedTime(file), "not written again");
        assertEquals(1, s.describe().stream().filter(l -> l.contains("rule 2 (ssh)") && l.endsWith("1 new flows, 1 open")).count(),
                s.describe().toString());
    }

    @Test
    void throughTheFrameworkTheFilterIsKeptOwnerOnlyInThePolicyStateFolder() throws IOException {
        NodeFilterService s = new NodeFilterService(environment(false), FilterTestKit.config(1024));
        try {
            s.expectFromControlPlane();
            assertNull(s.installed());
            s.install(StatefulFilterTest.POLICY);
        } finally {
            s.deactivate();
        }
        Path file = state.resolve(NodeFilterService.STATE_FOLDER).resolve(NodeFilterService.FILE_NAME);
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
        NodeFilterService again = new NodeFilterService(environment(false), FilterTestKit.config(1024));
        try {
            assertEquals(StatefulFilterTest.POLICY, again.installed());
        } finally {
            again.deactivate();
        }
    }

    @Test
    void withoutAStateFolderFiltersAreEnforcedButNotKept() {
        NodeFilterService s = new NodeFilterService(environment(true), FilterTestKit.config(1024));
        try {
            s.install(StatefulFilterTest.POLICY);
            assertFalse(in(s, Packets.tcp(PEER4, 40_001, NODE4, 23, SYN)));
            assertTrue(in(s, Packets.tcp(PEER4, 40_000, NODE4, 22, SYN)));
        } finally {
            s.deactivate();
        }
    }

    @Test
    void theMetersFollowTheFilterInForceAndGoWithTheRegistry() {
        NodeFilterService s = service(store());
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        s.bindMeterRegistry(registry);
        assertFalse(in(s, Packets.tcp(PEER4, 40_000, NODE4, 22, SYN)));
        assertEquals(1, registry.get("cloudbridge.filter.drops").tag("reason", "no filter yet").functionCounter().count());
        assertEquals(1, registry.get("cloudbridge.filter.flows").gauge().value());

        s.install(StatefulFilterTest.POLICY);
        assertTrue(in(s, Packets.tcp(PEER4, 40_001, NODE4, 22, SYN)));
        assertFalse(in(s, Packets.tcp(PEER4, 40_002, NODE4, 23, SYN)));
        assertEquals(1, registry.get("cloudbridge.filter.rule.hits").tags("rule", "rule 2 (ssh)", "verdict", "accept")
                .functionCounter().count());
        assertEquals(1, registry.get("cloudbridge.filter.rule.hits").tags("rule", "rule 1 (no-telnet)", "verdict", "deny")
                .functionCounter().count());
        assertEquals(6, registry.get("cloudbridge.filter.rule.hits").functionCounters().size());
        assertEquals(0, registry.get("cloudbridge.filter.evictions").functionCounter().count());

        s.install(filter(8, rule(1, "", true, "100.64.0.0/10", NODE4 + "/32", Set.of(TCP), "22")));
        assertEquals(1, registry.get("cloudbridge.filter.rule.hits").functionCounters().size(), "the old rules' meters went");
        assertEquals("rule 1", registry.get("cloudbridge.filter.rule.hits").functionCounter().getId().getTag("rule"));

        s.unbindMeterRegistry(registry);
        assertEquals(List.of(), registry.getMeters());
    }

    @Test
    void cbPolicyShowsTheFilterInForceItsRulesDropsAndTable() {
        NodeFilterService s = service(store());
        PolicyCommand command = new PolicyCommand(s);
        assertTrue(command.policy().startsWith("no filter yet: only replies are let in\n"), command.policy());

        s.install(NodeFilter.OPEN);
        assertTrue(command.policy().startsWith("no policy: everything is let in\n"), command.policy());

        s.install(StatefulFilterTest.POLICY);
        assertTrue(in(s, Packets.tcp(PEER4, 40_000, NODE4, 22, SYN)));
        assertFalse(in(s, Packets.tcp(PEER4, 40_001, NODE4, 23, SYN)));
        out(s, Packets.udp(NODE4, 33_000, PEER4, 4789));
        String text = command.policy();
        assertTrue(text.startsWith("policy version 7: 6 rules; the first that matches a new flow decides, none matching denies it\n"), text);
        assertTrue(text.contains("\n  rule 1 (no-telnet) deny from 100.64.0.0/10,fd7a:115c:a1e0:0:0:0:0:0/48 to 100.64.0.1/32,"
                + "fd7a:115c:a1e0:0:0:0:0:1/128, tcp, ports 23: 1 new flows\n"), text);
        assertTrue(text.contains("\n  rule 2 (ssh) accept from 100.64.0.0/10,fd7a:115c:a1e0:0:0:0:0:0/48 to 100.64.0.1/32,"
                + "fd7a:115c:a1e0:0:0:0:0:1/128, tcp, ports 22: 1 new flows, 1 open\n"), text);
        assertTrue(text.contains("\n  rule 5 (ping) accept from 100.64.0.0/10,fd7a:115c:a1e0:0:0:0:0:0/48 to 100.64.0.1/32,"
                + "fd7a:115c:a1e0:0:0:0:0:1/128, icmp,icmpv6, any port: 0 new flows, 0 open\n"), text);
        assertTrue(text.contains("\n  rule 6 accept from 100.64.0.3/32 to"), text);
        assertTrue(text.contains("\ndropped packets: no filter yet 0, default deny 0, denied by rule 1, unsolicited icmp reply 0, "
                + "unrelated icmp error 0, malformed 0\n"), text);
        assertTrue(text.endsWith("\nflows: 3 of 1024 (1 opened by this node, 1 by peers, 1 refused), 0 evicted, 1 refused so far\n"), text);
    }

    private FilterStore store() {
        return new FilterStore(state.resolve(NodeFilterService.FILE_NAME), FilterTestKit::writeOwnerOnly);
    }

    /** A node's filter as a node with a control plane has it. */
    private NodeFilterService service(FilterStore store) {
        NodeFilterService s = new NodeFilterService(store, FilterTestKit.config(1024), clock, log::add);
        s.expectFromControlPlane();
        return s;
    }

    @Test
    void aNodeWithoutAControlPlaneFiltersNothingUntilOneGovernsIt() {
        NodeFilterService s = new NodeFilterService(store(), FilterTestKit.config(1024), clock, log::add);
        assertNull(s.installed(), "no filter of its own");
        assertTrue(in(s, Packets.tcp(PEER4, 40_000, NODE4, 22, SYN)), "static peers only: nothing filtered");
        s.expectFromControlPlane();
        assertFalse(in(s, Packets.tcp(PEER4, 40_001, NODE4, 22, SYN)), "governed, and no filter yet: fail closed");
        s.install(StatefulFilterTest.POLICY);
        NodeFilterService restarted = new NodeFilterService(store(), FilterTestKit.config(1024), clock, log::add);
        assertEquals(StatefulFilterTest.POLICY, restarted.installed(), "a kept filter is in force before any control plane");
        assertFalse(in(restarted, Packets.tcp(PEER4, 40_002, NODE4, 23, SYN)));
    }

    /** The kernel's environment on the test's folder; {@code broken}: one whose state folder cannot be had. */
    private RuntimeEnvironment environment(boolean broken) {
        return new RuntimeEnvironment() {
            @Override
            public Path home() {
                return state;
            }

            @Override
            public String role() {
                return "up";
            }

            @Override
            public Path stateFolder() {
                return state;
            }

            @Override
            public Path stateFolder(String component) throws IOException {
                if (broken) {
                    throw new IOException("read-only file system");
                }
                return Files.createDirectories(state.resolve(component));
            }

            @Override
            public Path configuredPath(String path) {
                return state.resolve(path);
            }

            @Override
            public void writeSecret(Path file, String text) throws IOException {
                FilterTestKit.writeOwnerOnly(file, text);
            }
        };
    }

    private static boolean in(NodeFilterService s, byte[] packet) {
        return s.admitInbound(packet, 0, packet.length);
    }

    private static void out(NodeFilterService s, byte[] packet) {
        s.noteOutbound(packet, 0, packet.length);
    }
}
