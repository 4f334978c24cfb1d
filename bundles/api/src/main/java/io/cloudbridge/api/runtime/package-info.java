/**
 * The runtime itself: features, health, configuration, and the environment it runs in.
 */
@Export
@Version("1.2.0")
package io.cloudbridge.api.runtime;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
