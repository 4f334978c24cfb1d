package io.cloudbridge.filter.internal;

import static io.cloudbridge.filter.internal.FilterTestKit.ICMP;
import static io.cloudbridge.filter.internal.FilterTestKit.ICMPV6;
import static io.cloudbridge.filter.internal.FilterTestKit.TCP;
import static io.cloudbridge.filter.internal.FilterTestKit.UDP;
import static io.cloudbridge.filter.internal.FilterTestKit.filter;
import static io.cloudbridge.filter.internal.FilterTestKit.rule;
import static io.cloudbridge.filter.internal.Packets.ACK;
import static io.cloudbridge.filter.internal.Packets.FIN;
import static io.cloudbridge.filter.internal.Packets.NODE4;
import static io.cloudbridge.filter.internal.Packets.NODE6;
import static io.cloudbridge.filter.internal.Packets.OTHER4;
import static io.cloudbridge.filter.internal.Packets.PEER4;
import static io.cloudbridge.filter.internal.Packets.PEER6;
import static io.cloudbridge.filter.internal.Packets.RST;
import static io.cloudbridge.filter.internal.Packets.SYN;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.api.policy.NodeFilter;
import io.cloudbridge.filter.internal.FilterTestKit.ManualClock;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The filter's decisions on hand-built packets: rules, replies, ICMP, fragments, new filters, timeouts. */
class StatefulFilterTest {
    private static final String NODE = NODE4 + "/32," + NODE6 + "/128";
    private static final String OVERLAY = "100.64.0.0/10,fd7a:115c:a1e0::/48";

    /** Telnet refused to all; ssh, a web port range, DNS from one peer and ping accepted; anything from OTHER4. */
    static final NodeFilter POLICY = filter(7,
            rule(1, "no-telnet", false, OVERLAY, NODE, Set.of(TCP), "23"),
            rule(2, "ssh", true, OVERLAY, NODE, Set.of(TCP), "22"),
            rule(3, "web", true, OVERLAY, NODE, Set.of(TCP), "8000-8080"),
            rule(4, "dns", true, PEER4 + "/32", NODE, Set.of(UDP), "53"),
            rule(5, "ping", true, OVERLAY, NODE, Set.of(ICMP, ICMPV6)),
            rule(6, "", true, OTHER4 + "/32", NODE, Set.of()));

    private final ManualClock clock = new ManualClock();
    private final List<String> log = new ArrayList<>();
    private final StatefulFilter filter = FilterTestKit.engine(1024, clock, log);

    @Test
    void anOpenFilterLetsEverythingIn() {
        filter.install(NodeFilter.OPEN);
        assertTrue(in(Packets.tcp(PEER4, 40_000, NODE4, 23, SYN)));
        assertTrue(in(Packets.udp(PEER6, 1, NODE6, 9999)));
        assertTrue(in(Packets.echo(PEER4, NODE4, true, 1)));
        assertTrue(in(Packets.echo(PEER4, NODE4, false, 2)), "even a reply to nothing");
        assertTrue(in(Packets.icmpError(PEER4, NODE4, 3, 1, 0, Packets.udp(NODE4, 1, PEER4, 2))));
        assertTrue(in(Packets.ip(PEER6, NODE6, 47, new byte[24])), "GRE");
        assertTrue(in(new byte[3]), "not even read");
        assertEquals(List.of(), log);
        assertEquals(0, filter.flowCount(), "nothing tracked without a policy");
    }

    @Test
    void beforeAnyFilterOnlyRepliesToTheNodesOwnFlowsGetIn() {
        assertFalse(in(Packets.tcp(PEER4, 40_000, NODE4, 22, SYN)));
        assertEquals(1, filter.drops(DropReason.NO_FILTER_YET));
        assertTrue(log.get(0).contains("no filter yet"), log.toString());

        out(Packets.tcp(NODE4, 41_000, PEER4, 443, SYN));
        assertTrue(in(Packets.tcp(PEER4, 443, NODE4, 41_000, SYN | ACK)));
        out(Packets.echo(NODE6, PEER6, true, 5));
        assertTrue(in(Packets.echo(PEER6, NODE6, false, 5)));
        assertFalse(in(Packets.udp(PEER4, 53, NODE4, 41_000)), "not a reply to anything the node sent");
    }

    @Test
    void aNewFlowIsLetInOnlyOnAPortARuleAccepts() {
        filter.install(POLICY);
        assertTrue(in(Packets.tcp(PEER4, 40_000, NODE4, 22, SYN)));
        assertFalse(in(Packets.tcp(PEER4, 40_001, NODE4, 2222, SYN)));
        assertTrue(in(Packets.tcp(PEER4, 40_002, NODE4, 8000, SYN)), "the range's first port");
        assertTrue(in(Packets.tcp(PEER4, 40_003, NODE4, 8080, SYN)), "and its last");
        assertFalse(in(Packets.tcp(PEER4, 40_004, NODE4, 8081, SYN)));
        assertFalse(in(Packets.udp(PEER4, 40_005, NODE4, 22)), "ssh's rule is TCP's");

        assertEquals(1, filter.inForce().hits(1).sum());
        assertEquals(2, filter.inForce().hits(2).sum());
        assertEquals(3, filter.drops(DropReason.DEFAULT_DENY));
        assertTrue(log.get(0).endsWith("tcp 100.64.0.2:40001 -> 100.64.0.1:2222: no rule matched: default deny"), log.get(0));
    }

    @Test
    void theFirstMatchingRuleDecidesSoADenyBeforeABroaderAcceptWins() {
        filter.install(POLICY);
        assertFalse(in(Packets.tcp(OTHER4, 40_000, NODE4, 23, SYN)), "rule 1 before rule 6");
        assertTrue(in(Packets.tcp(OTHER4, 40_001, NODE4, 9999, SYN)), "rule 6: anything else from OTHER4");
        assertTrue(in(Packets.ip(OTHER4, NODE4, 47, new byte[8])), "on any protocol");
        assertFalse(in(Packets.tcp(PEER4, 40_002, NODE4, 9999, SYN)), "rule 6 is OTHER4's only");

        assertEquals(1, filter.drops(DropReason.DENIED_BY_RULE));
        assertEquals(1, filter.inForce().hits(0).sum());
        assertEquals(2, filter.inForce().hits(5).sum());
        assertTrue(log.get(0).endsWith("tcp 100.64.0.3:40000 -> 100.64.0.1:23: rule 1 (no-telnet)"), log.get(0));
    }

    @Test
    void rulesApplyToIpv6UdpAndIcmpEcho() {
        filter.install(POLICY);
        assertTrue(in(Packets.tcp(PEER6, 40_000, NODE6, 22, SYN)));
        assertFalse(in(Packets.tcp(PEER6, 40_001, NODE6, 80, SYN)));
        assertTrue(in(Packets.udp(PEER4, 5353, NODE4, 53)));
        assertFalse(in(Packets.udp("100.64.0.9", 5353, NODE4, 53)), "DNS from PEER4 only");
        assertTrue(in(Packets.echo(PEER4, NODE4, true, 1)));
        assertTrue(in(Packets.echo(PEER6, NODE6, true, 1)));
        assertFalse(in(Packets.tcp(PEER4, 40_002, "100.64.0.77", 22, SYN)), "not to this node's address");

        filter.install(filter(8, rule(1, "ssh only", true, OVERLAY, NODE, Set.of(TCP), "22")));
        assertFalse(in(Packets.echo(PEER4, NODE4, true, 2)), "no rule for ICMP: a ping is a new flow like any other");
        assertFalse(in(Packets.echo(PEER6, NODE6, true, 2)));
    }

    @Test
    void aFlowTheNodeOpenedGetsItsRepliesWhileThePeerCannotOpenTheSame() {
        filter.install(POLICY);
        byte[] reply = Packets.tcp(PEER4, 5432, NODE4, 41_000, SYN | ACK);
        assertFalse(in(reply), "the peer may not reach port 41000 on its own");

        out(Packets.tcp(NODE4, 41_001, PEER4, 5432, SYN));
        assertTrue(in(Packets.tcp(PEER4, 5432, NODE4, 41_001, SYN | ACK)));
        out(Packets.tcp(NODE4, 41_001, PEER4, 5432, ACK));
        for (int i = 0; i < 10; i++) {
            assertTrue(in(Packets.tcp(PEER4, 5432, NODE4, 41_001, ACK)));
        }
        assertFalse(in(Packets.tcp(PEER4, 5433, NODE4, 41_001, ACK)), "another port of the peer's is another flow");
        assertFalse(in(Packets.tcp(PEER4, 5432, NODE4, 41_000, SYN | ACK)), "still refused, and not logged again");
        assertEquals(2, log.size(), "two refused flows");
    }

    @Test
    void echoRepliesGetInOnlyForTheNodesOwnRequests() {
        filter.install(filter(3, rule(1, "ssh only", true, OVERLAY, NODE, Set.of(TCP), "22")));
        out(Packets.echo(NODE4, PEER4, true, 77));
        assertTrue(in(Packets.echo(PEER4, NODE4, false, 77)));
        assertFalse(in(Packets.echo(PEER4, NODE4, false, 78)), "another identifier");
        assertFalse(in(Packets.echo(PEER4, NODE4, true, 77)), "the peer's own request with the same identifier is a new flow");
        assertEquals(1, filter.drops(DropReason.UNSOLICITED_REPLY));
        assertEquals(1, filter.drops(DropReason.DEFAULT_DENY));

        out(Packets.echo(NODE6, PEER6, true, 77));
        assertTrue(in(Packets.echo(PEER6, NODE6, false, 77)));
    }

    @Test
    void icmpErrorsAboutTrackedFlowsGetInAndOthersAreDropped() {
        filter.install(POLICY);
        byte[] https = Packets.tcp(NODE6, 41_000, PEER6, 443, SYN);
        out(https);
        assertTrue(in(Packets.icmpError(PEER6, NODE6, 2, 0, 1280, https)), "packet too big from the flow's peer");
        assertFalse(in(Packets.icmpError("fd7a:115c:a1e0::99", NODE6, 2, 0, 1280, https)),
                "another peer's packet too big about this flow: it could shrink or cut a flow it is no part of");

        byte[] vxlan = Packets.udp(NODE4, 33_000, PEER4, 4789);
        out(vxlan);
        assertTrue(in(Packets.icmpError(PEER4, NODE4, 3, 4, 1380, vxlan)), "fragmentation needed");
        assertTrue(in(Packets.icmpError(PEER4, NODE4, 11, 0, 0, vxlan)), "time exceeded");
        assertEquals(3, filter.relatedErrorsAdmitted());

        assertFalse(in(Packets.icmpError(PEER4, NODE4, 3, 3, 0, Packets.udp(NODE4, 33_001, PEER4, 4789))), "no such flow");
        assertFalse(in(Packets.icmpError(PEER6, NODE6, 1, 4, 0, Packets.tcp(NODE6, 41_000, PEER6, 444, SYN))));

        assertFalse(in(Packets.tcp(OTHER4, 40_000, NODE4, 23, SYN)));
        byte[] refusedFlowsAnswer = Packets.tcp(NODE4, 23, OTHER4, 40_000, RST | ACK);
        assertFalse(in(Packets.icmpError(OTHER4, NODE4, 3, 3, 0, refusedFlowsAnswer)), "a refused flow has nothing related");
        assertFalse(in(Packets.icmpError(OTHER4, NODE4, 3, 3, 0, vxlan)), "port unreachable about PEER4's flow, from OTHER4");
        assertEquals(5, filter.drops(DropReason.UNRELATED_ICMP_ERROR));

        byte[] cut = Packets.icmpError(PEER4, NODE4, 3, 4, 1380, vxlan);
        byte[] shortQuote = Packets.ip(PEER4, NODE4, ICMP, java.util.Arrays.copyOfRange(cut, 20, 20 + 8 + 12));
        assertFalse(in(shortQuote), "a quote too short to show the ports");
        assertEquals(1, filter.drops(DropReason.MALFORMED));
    }

    @Test
    void nonFirstFragmentsGetInAndFirstFragmentsAreFilteredByTheirPorts() {
        assertTrue(in(Packets.ipv4Fragment(PEER4, NODE4, UDP, 185, false, new byte[200])), "even before any filter");
        filter.install(POLICY);
        assertTrue(in(Packets.ipv4Fragment(PEER4, NODE4, TCP, 185, true, new byte[200])));
        assertTrue(in(Packets.ipv6Fragment(PEER6, NODE6, UDP, 181, new byte[200])));
        assertEquals(3, filter.laterFragmentsAdmitted());

        byte[] ssh = Packets.tcpHeader(40_000, 22, ACK);
        byte[] other = Packets.tcpHeader(40_000, 2222, ACK);
        assertTrue(in(Packets.ipv4Fragment(PEER4, NODE4, TCP, 0, true, ssh)));
        assertFalse(in(Packets.ipv4Fragment(PEER4, NODE4, TCP, 0, true, other)));
        assertTrue(in(Packets.ipv6WithExtensions(PEER6, NODE6, new int[] {Packets.FRAGMENT}, TCP, ssh)));
        assertFalse(in(Packets.ipv6WithExtensions(PEER6, NODE6, new int[] {Packets.FRAGMENT}, TCP, other)));
    }

    @Test
    void aStricterFilterStopsAnOpenFlowAtItsNextPacketAndKeepsTheNodesOwn() {
        filter.install(POLICY);
        assertTrue(in(Packets.tcp(PEER4, 40_000, NODE4, 22, SYN)));
        out(Packets.tcp(NODE4, 22, PEER4, 40_000, SYN | ACK));
        assertTrue(in(Packets.tcp(PEER4, 40_000, NODE4, 22, ACK)));
        assertTrue(in(Packets.tcp(PEER4, 40_001, NODE4, 8000, SYN)));
        out(Packets.tcp(NODE4, 41_000, PEER4, 443, SYN));
        assertTrue(in(Packets.tcp(PEER4, 443, NODE4, 41_000, SYN | ACK)));
        assertFalse(in(Packets.tcp(PEER4, 40_002, NODE4, 2222, SYN)));

        NodeFilter stricter = filter(8,
                rule(1, "web", true, OVERLAY, NODE, Set.of(TCP), "8000"),
                rule(2, "admin", true, OVERLAY, NODE, Set.of(TCP), "2222"));
        assertEquals(1, filter.install(stricter), "the ssh connection");

        assertTrue(log.get(log.size() - 1).contains("40000 -> 100.64.0.1:22: stopped by the new policy, no rule matched"),
                log.toString());
        // The server answers what arrived just before: that is not sent, and does not make the flow the node's own.
        assertFalse(filter.noteOutbound(Packets.tcp(NODE4, 22, PEER4, 40_000, ACK), 0, 40), "the stopped flow's answer is not sent");
        assertFalse(in(Packets.tcp(PEER4, 40_000, NODE4, 22, ACK)), "ssh stops at its next packet, and stays stopped");
        assertFalse(in(Packets.tcp(PEER4, 40_000, NODE4, 22, ACK)));
        // Another filter (the same policy, a member joined a source group): the refusal stands.
        assertEquals(0, filter.install(filter(9, stricter.rules().toArray(io.cloudbridge.api.policy.FilterRule[]::new))));
        assertFalse(filter.noteOutbound(Packets.tcp(NODE4, 22, PEER4, 40_000, ACK), 0, 40));
        assertFalse(in(Packets.tcp(PEER4, 40_000, NODE4, 22, ACK)), "still stopped after the next filter");
        assertTrue(in(Packets.tcp(PEER4, 40_001, NODE4, 8000, ACK)), "still allowed: kept");
        assertEquals(0, filter.inForce().hits(0).sum(), "kept, not decided again");
        assertTrue(in(Packets.tcp(PEER4, 443, NODE4, 41_000, ACK)), "the node's own connection stays");
        assertTrue(in(Packets.tcp(PEER4, 40_002, NODE4, 2222, SYN)), "the old refusal is forgotten: the new rules allow it");
    }

    @Test
    void aRefusedFlowIsLoggedOnceWhileEachOfItsPacketsIsCounted() {
        filter.install(POLICY);
        for (int i = 0; i < 10; i++) {
            assertFalse(in(Packets.tcp(PEER4, 40_000, NODE4, 2222, i == 0 ? SYN : ACK)));
        }
        assertEquals(1, log.size());
        assertEquals(10, filter.drops(DropReason.DEFAULT_DENY));
        assertFalse(in(Packets.tcp(PEER4, 40_001, NODE4, 2222, SYN)));
        assertEquals(2, log.size(), "another flow");
        assertEquals(2, filter.deniedFlows());

        filter.install(filter(9, rule(1, "nothing", false, OVERLAY, NODE, Set.of())));
        assertFalse(in(Packets.tcp(PEER4, 40_000, NODE4, 2222, ACK)));
        assertEquals(2, log.size(), "a refusal the new filter upholds is not news");
        assertEquals(1, filter.drops(DropReason.DENIED_BY_RULE), "now refused by the new filter's rule");
        assertFalse(in(Packets.tcp(PEER4, 40_003, NODE4, 2222, SYN)));
        assertTrue(log.get(2).endsWith("rule 1 (nothing)"), log.get(2));
    }

    @Test
    void aFloodOfRefusedFlowsIsLoggedAtABoundedRateSayingHowManyWereLeftOut() {
        filter.install(POLICY);
        for (int port = 1; port <= 100; port++) {
            assertFalse(in(Packets.udp(PEER4, 10_000 + port, NODE4, 9)));
        }
        assertEquals(DenialLog.LINES_PER_SECOND, log.size());
        assertEquals(100, filter.deniedFlows());
        clock.advanceSeconds(1);
        assertFalse(in(Packets.udp(PEER4, 20_000, NODE4, 9)));
        assertTrue(log.get(log.size() - 1).endsWith("(80 more refused flows were not logged)"), log.get(log.size() - 1));
    }

    @Test
    void idleFlowsAreForgottenAfterTheirProtocolsTimeout() {
        filter.install(POLICY);
        out(Packets.udp(NODE4, 33_000, PEER4, 4789));
        clock.advanceSeconds(59);
        assertTrue(in(Packets.udp(PEER4, 4789, NODE4, 33_000)));
        clock.advanceSeconds(61);
        assertFalse(in(Packets.udp(PEER4, 4789, NODE4, 33_000)), "60 s of UDP silence: forgotten, and a new flow is refused");

        out(Packets.tcp(NODE4, 41_000, PEER4, 443, SYN));
        clock.advanceSeconds(299);
        assertTrue(in(Packets.tcp(PEER4, 443, NODE4, 41_000, SYN | ACK)), "TCP is remembered for five minutes");
        out(Packets.tcp(NODE4, 41_000, PEER4, 443, FIN | ACK));
        clock.advanceSeconds(19);
        assertTrue(in(Packets.tcp(PEER4, 443, NODE4, 41_000, FIN | ACK)));
        clock.advanceSeconds(21);
        assertFalse(in(Packets.tcp(PEER4, 443, NODE4, 41_000, ACK)), "after a FIN, 20 s");

        out(Packets.echo(NODE4, PEER4, true, 3));
        clock.advanceSeconds(31);
        assertFalse(in(Packets.echo(PEER4, NODE4, false, 3)), "ICMP: 30 s");
    }

    @Test
    void theTimeoutsFollowTheConfiguration() {
        filter.install(POLICY);
        filter.configure(Timeouts.of(FilterTestKit.config(1024, 5, 1, 2, 1)), 1024);
        out(Packets.tcp(NODE4, 41_000, PEER4, 443, SYN));
        clock.advanceSeconds(4);
        assertTrue(in(Packets.tcp(PEER4, 443, NODE4, 41_000, SYN | ACK)));
        clock.advanceSeconds(6);
        assertFalse(in(Packets.tcp(PEER4, 443, NODE4, 41_000, ACK)));
        out(Packets.udp(NODE4, 33_000, PEER4, 4789));
        clock.advanceSeconds(3);
        assertFalse(in(Packets.udp(PEER4, 4789, NODE4, 33_000)));
    }

    @Test
    void aKnownFlowIsNotDecidedAgainAndARefusedOneNotLoggedAgain() {
        filter.install(POLICY);
        for (int i = 0; i < 100; i++) {
            assertTrue(in(Packets.tcp(PEER4, 40_000, NODE4, 22, i == 0 ? SYN : ACK)));
            assertFalse(in(Packets.tcp(PEER4, 40_000, NODE4, 23, ACK)));
        }
        assertEquals(1, filter.inForce().hits(1).sum());
        assertEquals(1, filter.inForce().hits(0).sum());
        assertEquals(1, log.size());
        assertEquals(100, filter.drops(DropReason.DENIED_BY_RULE));
    }

    @Test
    void malformedPacketsOfEveryLengthAreCountedAndNeverThrow() {
        filter.install(FilterTestKit.acceptAll());
        int count = 0;
        for (byte[] packet : PacketHeadersTest.samples()) {
            for (int length = 0; length < packet.length; length++) {
                byte[] cut = Packets.copy(packet, length);
                assertFalse(in(cut), "cut to " + length);
                out(cut);
                count++;
            }
        }
        assertFalse(filter.admitInbound(new byte[40], 30, 20), "a length past the array");
        assertEquals(count + 1, filter.drops(DropReason.MALFORMED));
        assertEquals(0, filter.flowCount(), "the node's malformed packets open nothing");
    }

    private void out(byte[] packet) {
        filter.noteOutbound(packet, 0, packet.length);
    }

    private boolean in(byte[] packet) {
        return filter.admitInbound(packet, 0, packet.length);
    }
}
