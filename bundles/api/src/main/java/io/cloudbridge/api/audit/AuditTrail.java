package io.cloudbridge.api.audit;

import org.osgi.annotation.versioning.ProviderType;

/**
 * The daemon's audit trail: append-only, each entry chained to the one before it by a hash, with
 * signed checkpoints (docs/operations.md, "The audit log"). Components that change the daemon or
 * refuse a caller record it here; a component that finds no trail (it is being replaced) goes on,
 * since the audit must never stop the daemon's work.
 */
@ProviderType
public interface AuditTrail {

    /**
     * Appends {@code event}. Never throws: a write that fails is logged and counted by the trail, and
     * the caller's operation goes on.
     */
    void record(AuditEvent event);
}
