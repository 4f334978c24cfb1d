package io.cloudbridge.api.transport;

import java.net.URI;
import java.util.Optional;

/**
 * A relay a node can reach.
 *
 * @param name                 the relay's name in the configuration
 * @param uri                  where it listens, e.g. {@code quic://relay.example:443}
 * @param certificateSha256    the pinned SHA-256 fingerprint of the relay's certificate (hex), if any
 */
public record RelayEndpoint(String name, URI uri, Optional<String> certificateSha256) {
}
