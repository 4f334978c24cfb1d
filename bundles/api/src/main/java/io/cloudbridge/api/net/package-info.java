/**
 * Value types shared by the contracts: node keys and IP prefixes.
 */
@Export
@Version("1.0.0")
package io.cloudbridge.api.net;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
