package io.cloudbridge.itest;

import java.util.EnumSet;
import org.junit.jupiter.api.Test;

/**
 * The fairness bound of issue 23: tenant B's p99 figures while tenant A floods stay within
 * max(2 x idle, idle + 5 ms). A latency bound is a benchmark's business, not the suite's, so this
 * runs from {@code bench/fairness.sh} (its name matches no test pattern); the suite runs
 * {@link TenantFairnessTest}, which checks that B is never refused. Met by every step in the
 * run recorded in docs/performance.md once A's client ran in a process of its own at the lowest
 * priority (as an attacker's client runs on its own machines). What each step measured before
 * issue 23 item 1 landed, with A's client threads in this JVM:
 * <ul>
 * <li>{@code registrationFlood}: B's registration p99 23.1 -> 74.6 ms and 35.5 -> 329.5 ms (bound 2x) while A registers within its pre-auth key's budget, which lets a minute's worth (1,200) through at once: RegistrationWriter is one FIFO queue for all tenants, so B's registration waits behind A's bursts</li>
 * <li>{@code datagramFlood}: B's ping p99 3.78 -> 19.92 ms (bound 8.78), registration 27.6 -> 77.4 ms, 18 datagrams dropped by the kernel at the relay's QUIC socket (passed once, ping 3.67 -> 6.39 ms, with less other load on the machine): one event loop reads that one UDP socket, with the default receive buffer, for every tenant, and the fair share acts only on what it has read</li>
 * <li>{@code lookUpFlood}: B's first tunnel p99 65.7 -> 159.6 ms (bound 131.3) in one run, B's ping p99 4.23 -> 13.31 ms (bound 9.23) in another; B never refused. Cause not isolated: A's HTTP/3 requests and token checks share the QUIC listener's one event loop and the proxy's two check threads with B, on a machine loaded by other builds</li>
 * <li>{@code allStepsAtOnce}: 3 of B's pings unanswered, 4,249 datagrams dropped by the kernel during them; B's ping p99 5.72 -> 63.44 ms, first tunnel 12.11 -> 71.03 ms (the causes of the steps above together)</li>
 * <li>{@code gatewayHandshakeFlood}: before item 1 (the gateway sheds handshake floods): 3 of B's pings unanswered, 2,906 datagrams dropped by the kernel during them, B's ping p99 4.83 -> 17.93 ms; the gateway's WireGuard runs inline on the QUIC listener's one event loop (TenantGateways' port sink calls receiveEncrypted), an X25519 operation per initiation</li>
 * </ul>
 */
class TenantFairnessRun extends TenantFairnessTest {
    /** Registrations in a loop from one reusable pre-auth key, fresh node keys. */
    @Test
    void registrationFlood() throws Exception {
        fairness(EnumSet.of(Attack.REGISTRATIONS), true, true);
    }

    /** Datagrams from several nodes at ten times their budget (twenty times the tenant's), reconnecting every half second. */
    @Test
    void datagramFlood() throws Exception {
        fairness(EnumSet.of(Attack.DATAGRAMS), true, true);
    }

    /** CONNECT-UDP requests for names under a name server that never answers. */
    @Test
    void lookUpFlood() throws Exception {
        fairness(EnumSet.of(Attack.LOOKUPS), true, true);
    }

    /** Registrations, datagrams and look-ups at once. */
    @Test
    void allStepsAtOnce() throws Exception {
        fairness(EnumSet.of(Attack.REGISTRATIONS, Attack.DATAGRAMS, Attack.LOOKUPS), true, true);
    }

    /**
     * The gateway step: A opens a CONNECT-IP session, so the relay makes A's gateway and publishes
     * its WireGuard key in A's map; A's nodes read the key from their map and send handshake
     * initiations to it over their relay sessions at many times their packet budget, each with a
     * valid MAC1 (the gateway must do a Diffie-Hellman before it knows the initiation is junk):
     * initiations of A's registered nodes (real keys: the gateway's peers, so it answers them) and
     * of keys it has never seen. Every initiation costs the relay an X25519 operation.
     */
    @Test
    void gatewayHandshakeFlood() throws Exception {
        fairness(EnumSet.of(Attack.GATEWAY_HANDSHAKES), GATEWAY_WITH_TEST_BUDGETS, true);
    }

}
