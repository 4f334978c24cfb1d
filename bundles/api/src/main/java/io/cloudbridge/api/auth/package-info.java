/**
 * Token and credential providers: where a node's access tokens come from and where its secrets are kept.
 */
@Export
@Version("1.2.0")
package io.cloudbridge.api.auth;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
