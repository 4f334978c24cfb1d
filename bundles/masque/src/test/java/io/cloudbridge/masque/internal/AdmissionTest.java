package io.cloudbridge.masque.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.masque.internal.Admission.Kind;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The proxy's slots (issue 23 item 4): a client, a tenant and the proxy each bounded, and a
 * reserve that gives a tenant holding nothing its first tunnel however full the others made it.
 */
class AdmissionTest {
    /** 4 per client; a tenant 8 CONNECT-UDP tunnels, 3 CONNECT-IP sessions, 2 look-ups; 12 tunnels in all, 2 reserved; 5 look-ups, 1 reserved. */
    private final Admission admission = new Admission(new Admission.Limits(4, 8, 3, 12, 2, 2, 5, 1));

    private static MasqueProxy.Client client(String tenant, int n) {
        return new MasqueProxy.Client(tenant, "node " + tenant + "-" + n);
    }

    private Admission.Refusal refusal(Kind kind, MasqueProxy.Client client) {
        return assertThrows(Admission.Refused.class, () -> admission.take(kind, client)).refusal;
    }

    /**
     * The attack: a reusable pre-auth key of tenant A makes client after client, each taking its
     * per-client maximum. The tenant stops at its own bound, whichever client asks, and other
     * tenants are untouched by it.
     */
    @Test
    void manyClientsOfOneTenantAreHeldToTheTenantsBound() throws Exception {
        List<Admission.Slot> held = new ArrayList<>();
        for (int c = 0; c < 2; c++) {
            for (int i = 0; i < 4; i++) {
                held.add(admission.take(Kind.UDP_TUNNEL, client("a", c)));
            }
            Admission.Refusal own = refusal(Kind.UDP_TUNNEL, client("a", c));
            assertEquals(429, own.status());
            assertTrue(own.reason().contains("masque.maxTunnelsPerClient"), own.reason());
        }
        for (int c = 2; c < 10; c++) {
            Admission.Refusal tenant = refusal(Kind.UDP_TUNNEL, client("a", c));
            assertEquals(429, tenant.status(), "a fresh client of a tenant at its bound");
            assertTrue(tenant.reason().contains("masque.maxTunnelsPerTenant") && tenant.reason().contains("tenant a"), tenant.reason());
            assertEquals("connection_limit_reached", tenant.proxyError());
            assertTrue(tenant.retryAfterSeconds() > 0);
        }
        assertEquals(8, admission.held(Kind.UDP_TUNNEL, "a"));
        held.add(admission.take(Kind.UDP_TUNNEL, client("b", 0)));

        // Giving a slot back makes room for exactly one; giving it back twice makes no more.
        held.get(0).close();
        held.get(0).close();
        held.add(admission.take(Kind.UDP_TUNNEL, client("a", 5)));
        assertEquals(429, refusal(Kind.UDP_TUNNEL, client("a", 6)).status());
        held.forEach(Admission.Slot::close);
        assertEquals(0, admission.tunnels());
        assertTrue(admission.byTenant().isEmpty(), "nothing held, nothing kept: " + admission.byTenant());
    }

    /** CONNECT-IP sessions have their own tenant bound, and count towards the client's and the proxy's with the tunnels. */
    @Test
    void sessionsAreBoundedPerTenantAndShareTheClientsAndTheProxysBounds() throws Exception {
        for (int i = 0; i < 3; i++) {
            admission.take(Kind.IP_SESSION, client("a", i));
        }
        Admission.Refusal sessions = refusal(Kind.IP_SESSION, client("a", 3));
        assertEquals(429, sessions.status());
        assertTrue(sessions.reason().contains("masque.maxIpSessionsPerTenant"), sessions.reason());
        // Client a-0 holds a session: three tunnels more and it is at its 4.
        for (int i = 0; i < 3; i++) {
            admission.take(Kind.UDP_TUNNEL, client("a", 0));
        }
        assertTrue(refusal(Kind.UDP_TUNNEL, client("a", 0)).reason().contains("masque.maxTunnelsPerClient"));
        assertEquals(6, admission.tunnels());
    }

    /**
     * Tenants A and C fill the proxy up to its reserve. A tenant holding tunnels gets 503 from
     * then on; B, holding none, gets its first tunnel from the reserve; when the reserve is gone
     * too, everyone gets 503.
     */
    @Test
    void theReserveGoesToTenantsHoldingNothing() throws Exception {
        for (int i = 0; i < 8; i++) {
            admission.take(Kind.UDP_TUNNEL, client("a", i / 4));
        }
        admission.take(Kind.UDP_TUNNEL, client("c", 0));
        admission.take(Kind.IP_SESSION, client("c", 1));
        Admission.Refusal reserved = refusal(Kind.UDP_TUNNEL, client("c", 2));
        assertEquals(503, reserved.status(), "C holds tunnels: not its first");
        assertTrue(reserved.reason().contains("kept for tenants holding none"), reserved.reason());
        assertEquals(503, refusal(Kind.IP_SESSION, client("c", 2)).status(), "a session is a tunnel to the reserve too");

        Admission.Slot bFirst = admission.take(Kind.UDP_TUNNEL, client("b", 0));
        assertEquals(503, refusal(Kind.UDP_TUNNEL, client("b", 0)).status(), "B's second is not a first");
        admission.take(Kind.IP_SESSION, client("d", 0));
        Admission.Refusal full = refusal(Kind.UDP_TUNNEL, client("e", 0));
        assertEquals(503, full.status(), "the reserve is gone too");
        assertTrue(full.reason().contains("maximum of 12"), full.reason());

        bFirst.close();
        admission.take(Kind.UDP_TUNNEL, client("e", 0)); // B's slot went back to the reserve
    }

    /** Look-ups in flight: two per tenant, five in all, the last for a tenant with none in flight. */
    @Test
    void lookUpsInFlightAreBoundedPerTenantWithAReserve() throws Exception {
        Admission.Slot a1 = admission.take(Kind.RESOLUTION, client("a", 0));
        admission.take(Kind.RESOLUTION, client("a", 1));
        Admission.Refusal own = refusal(Kind.RESOLUTION, client("a", 2));
        assertEquals(429, own.status());
        assertTrue(own.reason().contains("masque.maxResolutionsPerTenant"), own.reason());
        admission.take(Kind.RESOLUTION, client("c", 0));
        admission.take(Kind.RESOLUTION, client("d", 0));
        Admission.Refusal reserved = refusal(Kind.RESOLUTION, client("c", 0));
        assertEquals(503, reserved.status(), "C has one in flight: the last look-up is kept for a tenant with none");
        assertTrue(reserved.reason().contains("masque.maxResolutions"), reserved.reason());
        admission.take(Kind.RESOLUTION, client("e", 0));
        assertEquals(503, refusal(Kind.RESOLUTION, client("f", 0)).status(), "all five in flight");
        a1.close();
        admission.take(Kind.RESOLUTION, client("f", 0));
        assertEquals(5, admission.resolutions());
    }
}
