/**
 * Per-tenant overlay address management.
 */
@Export
@Version("1.3.0")
package io.cloudbridge.api.ipam;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
