/**
 * The overlay device: the interface (TUN or userspace) that carries the overlay's IP packets.
 */
@Export
@Version("1.5.0")
package io.cloudbridge.api.overlay;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
