/**
 * Per-tenant overlay address management.
 */
@Export
@Version("1.2.0")
package io.cloudbridge.api.ipam;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
