/**
 * The runtime itself: features and health.
 */
@Export
@Version("1.0.0")
package io.cloudbridge.api.runtime;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
