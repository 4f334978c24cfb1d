package io.cloudbridge.api.transport;

import java.util.List;
import org.osgi.annotation.versioning.ProviderType;

/**
 * The relay this node is registered with, published by the control plane's node side while the
 * node is registered: where the relay's transports listen and how a session proves the node.
 * Transport selection opens its sessions from it.
 */
@ProviderType
public interface HomeRelay {

    /** The relay's transport endpoints, one per scheme ({@code quic://}, {@code wss://}), the pinned fingerprint in each. */
    List<RelayEndpoint> endpoints();

    /** The node's key and its current token, read at each (re)connect. */
    SessionCredentials credentials();
}
