/**
 * The one seam between a WireGuard engine and the world, in the spirit of wireguard-go's
 * {@code conn.Bind}: the engine seals and opens messages for peers and hands them to a
 * {@link io.cloudbridge.api.path.PathBinding}; which way a message goes (the UDP socket to an
 * endpoint, a direct path hole punching found, the relay, a MASQUE tunnel) is the binding's
 * business, and the engine never learns which way one came.
 */
@Export
@Version("1.2.0")
package io.cloudbridge.api.path;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
