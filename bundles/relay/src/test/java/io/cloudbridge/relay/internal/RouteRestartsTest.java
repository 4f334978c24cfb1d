package io.cloudbridge.relay.internal;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class RouteRestartsTest {
    @Test
    void aRemovedRouteIsComingBackWithinTheWindow() {
        RouteRestarts r = new RouteRestarts(true);
        r.started(30);
        r.served("cloudbridge/1");
        assertFalse(r.restarting("cloudbridge/1"), "served: nothing to come back");
        r.removed("cloudbridge/1");
        assertTrue(r.restarting("cloudbridge/1"));
        r.served("cloudbridge/1");
        r.removed("cloudbridge/1");
        r.started(0); // a window of nothing: gone at once
        assertFalse(r.restarting("cloudbridge/1"));
    }

    @Test
    void afterTheStartPerRouteWaitsForEachRouteAndOtherwiseForAny() {
        RouteRestarts quic = new RouteRestarts(true);
        quic.started(30);
        quic.served("h3");
        assertTrue(quic.restarting("cloudbridge/1"), "not served since the start: coming");
        RouteRestarts http = new RouteRestarts(false);
        http.started(30);
        assertTrue(http.restarting("/cloudbridge/v1/ws"), "nothing served yet: coming");
        http.served("/cloudbridge/v1/ws");
        assertFalse(http.restarting("/nothing-here"), "a route is served: an unknown path is not coming");
    }
}
