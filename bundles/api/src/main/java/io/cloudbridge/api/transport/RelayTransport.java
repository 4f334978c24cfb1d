package io.cloudbridge.api.transport;

import java.util.concurrent.CompletionStage;
import org.osgi.annotation.versioning.ConsumerType;

/**
 * A way to reach a relay (QUIC, WebSocket, ...). Each transport plugin registers one as a service;
 * the node tries them by {@link #priority()} and keeps the best live session. Removing the plugin's
 * bundle removes the service, and the node moves its peers to another transport.
 */
@ConsumerType
public interface RelayTransport {

    /** A short stable name: {@code quic}, {@code websocket}. */
    String name();

    /** Lower is tried first. */
    int priority();

    /** Whether this transport can reach the given relay at all (scheme, platform support). */
    boolean supports(RelayEndpoint relay);

    /**
     * Opens a session. The stage completes once the session is connected and authenticated, or
     * fails with the reason. Packets arrive at {@code receiver}.
     */
    CompletionStage<PacketSession> open(RelayEndpoint relay, SessionCredentials credentials, PacketReceiver receiver);
}
