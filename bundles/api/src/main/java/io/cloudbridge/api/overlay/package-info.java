/**
 * The overlay device: the interface (TUN or userspace) that carries the overlay's IP packets, and
 * WireGuard engines for those that need one of their own. 2.0: the overlay's socket and its inbound
 * from other paths (OverlaySocket, DatagramClaimer, EncryptedPacketInbound) live behind the single
 * path binding of {@code io.cloudbridge.api.path}.
 */
@Export
@Version("2.0.0")
package io.cloudbridge.api.overlay;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
