/**
 * Value types shared by the contracts: node keys, IP prefixes, this machine's name, and the
 * reusable batch of packets the data path's threads fill and drain.
 */
@Export
@Version("1.3.0")
package io.cloudbridge.api.net;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
