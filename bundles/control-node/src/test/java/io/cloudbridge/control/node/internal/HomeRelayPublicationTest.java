package io.cloudbridge.control.node.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.cloudbridge.api.transport.RelayEndpoint;
import io.cloudbridge.control.node.internal.ControlTestKit.QueueingScheduler;
import java.net.URI;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Where the node's transports are told to find their relay. */
class HomeRelayPublicationTest {
    @TempDir
    Path state;
    private final QueueingScheduler scheduler = new QueueingScheduler();
    private static final Optional<String> PINNED = Optional.of("sha256:" + "ab".repeat(32));

    @AfterEach
    void stop() {
        scheduler.shutdownNow();
    }

    private List<RelayEndpoint> endpoints(String relay, String... transports) throws Exception {
        return new HomeRelayPublication(ControlTestKit.session(state, ControlTestKit.config(relay, "node-a", "", 30, transports), scheduler))
                .transportEndpoints();
    }

    @Test
    void withoutConfiguredTransportsBothAreAtPort8443OfTheControlRelaysHost() throws Exception {
        assertEquals(List.of(new RelayEndpoint("relay.example:7443", URI.create("quic://relay.example:8443"), PINNED),
                new RelayEndpoint("relay.example:7443", URI.create("wss://relay.example:8443"), PINNED)), endpoints("relay.example:7443"));
    }

    @Test
    void configuredTransportsAreTakenAsWrittenAndTrimmed() throws Exception {
        assertEquals(List.of(new RelayEndpoint("relay.example:7443", URI.create("wss://edge.example/cb"), PINNED)),
                endpoints("relay.example:7443", " wss://edge.example/cb "), "the certificate pinned for the control relay goes with them");
    }
}
