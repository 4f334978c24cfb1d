/**
 * The operating system's TUN devices, as the overlay's interface uses them: opened by the tun
 * bundle, read and written in batches by the WireGuard engine's node interface. A relay, whose
 * gateways' WireGuard engines have no device, does without it.
 */
@Export
@Version("1.1.0")
package io.cloudbridge.api.tun;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
