/**
 * How a transport plugin serves on the relay's listeners. The relay owns the ports; a plugin
 * registers an {@link io.cloudbridge.relay.spi.HttpRoute} and the relay's TLS listener hands it
 * the connections that ask for its path. Removing the plugin removes the route, never the port.
 *
 * <p>This contract is in Netty's terms (a route takes over a Netty channel), so it is exported by
 * this bundle rather than by the API bundle, which depends on no I/O library.
 */
@Export
@Version("1.2.0")
package io.cloudbridge.relay.spi;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
