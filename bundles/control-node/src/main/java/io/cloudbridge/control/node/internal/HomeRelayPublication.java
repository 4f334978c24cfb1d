package io.cloudbridge.control.node.internal;

import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.api.transport.HomeRelay;
import io.cloudbridge.api.transport.RelayEndpoint;
import io.cloudbridge.api.transport.SessionCredentials;
import java.io.IOException;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.osgi.framework.ServiceRegistration;

/**
 * The {@link HomeRelay} service, published while the node is registered: it tells the node's
 * transports where its relay is and how to prove who it is. Its credentials name one key, so a
 * registration under another key withdraws it and publishes it again. Registered by hand, not by
 * SCR: it exists only while a registration does, one per registered key, which no component's
 * lifecycle follows.
 */
final class HomeRelayPublication {
    private final ControlSession session;

    /** The home relay for transport selection, published while registered. */
    private volatile ServiceRegistration<HomeRelay> homeRelay;
    /** The key the published HomeRelay's credentials name. */
    private volatile NodeKey publishedKey;

    HomeRelayPublication(ControlSession session) {
        this.session = session;
    }

    /** The relay's transports, as configured or at port 8443 of the control relay's host. */
    List<RelayEndpoint> transportEndpoints() throws IOException {
        NodeControlConfig config = session.config;
        String host = config.relay().substring(0, config.relay().lastIndexOf(':'));
        List<String> uris = config.transports().length > 0 ? List.of(config.transports())
                : List.of("quic://" + host + ":8443", "wss://" + host + ":8443");
        Optional<String> fingerprint = Optional.ofNullable(session.pin.expected());
        List<RelayEndpoint> out = new ArrayList<>();
        for (String u : uris) {
            out.add(new RelayEndpoint(config.relay(), URI.create(u.trim()), fingerprint));
        }
        return out;
    }

    /** Tells the node's transports where its relay is and how to prove who it is (its newest token at each connect). */
    void publish() throws IOException {
        if (homeRelay != null && session.nodeKey.equals(publishedKey)) {
            return;
        }
        withdraw(); // one under an earlier key: its sessions' credentials name that key
        publishedKey = session.nodeKey;
        List<RelayEndpoint> endpoints = transportEndpoints();
        SessionCredentials credentials = new SessionCredentials(session.nodeKey, () -> session.jwt);
        homeRelay = session.context.registerService(HomeRelay.class, new HomeRelay() {
            @Override
            public List<RelayEndpoint> endpoints() {
                return endpoints;
            }

            @Override
            public SessionCredentials credentials() {
                return credentials;
            }
        }, null);
    }

    void withdraw() {
        ServiceRegistration<?> r = homeRelay;
        homeRelay = null;
        if (r != null) {
            try {
                r.unregister();
            } catch (IllegalStateException alreadyGone) {
                // the bundle is stopping
            }
        }
    }
}
