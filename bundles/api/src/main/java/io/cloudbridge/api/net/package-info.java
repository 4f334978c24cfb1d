/**
 * Value types shared by the contracts: node keys, IP prefixes, and this machine's name.
 */
@Export
@Version("1.1.0")
package io.cloudbridge.api.net;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
