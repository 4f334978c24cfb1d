/**
 * The audit trail: configuration changes, features and bundles, administration and security events,
 * kept tamper-evident by whoever provides {@link io.cloudbridge.api.audit.AuditTrail}.
 */
@Export
@Version("1.0.0")
package io.cloudbridge.api.audit;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
