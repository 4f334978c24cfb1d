/**
 * The peer directory and the path manager: which peers a node has and which path carries each one's packets.
 */
@Export
@Version("1.4.0")
package io.cloudbridge.api.mesh;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
