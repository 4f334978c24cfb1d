/**
 * The Transport SPI: a relay transport opens a packet session from a node to a relay. Plugins (QUIC, WebSocket) register {@link io.cloudbridge.api.transport.RelayTransport} services; the node picks among them by priority.
 */
@Export
@Version("1.5.0")
package io.cloudbridge.api.transport;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
