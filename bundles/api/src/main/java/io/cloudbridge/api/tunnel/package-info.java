/**
 * Tunnels a node opens through a proxy (MASQUE CONNECT-UDP and CONNECT-IP).
 */
@Export
@Version("1.1.0")
package io.cloudbridge.api.tunnel;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
