/**
 * State changes that components announce and others observe (whiteboard listeners).
 */
@Export
@Version("1.0.0")
package io.cloudbridge.api.event;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
