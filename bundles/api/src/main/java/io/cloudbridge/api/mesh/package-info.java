/**
 * The peer directory and signalling: which peers a node has, what is known of the path to each, and
 * messages to them through the control plane. 2.0: the path manager's interfaces (PathManager,
 * PeerPath, NatTraversal) gave way to the single path binding of {@code io.cloudbridge.api.path};
 * signal listeners add themselves to {@link io.cloudbridge.api.mesh.Signalling}.
 */
@Export
@Version("2.0.0")
package io.cloudbridge.api.mesh;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
