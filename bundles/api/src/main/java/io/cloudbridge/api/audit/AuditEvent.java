package io.cloudbridge.api.audit;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * One thing the audit trail records.
 *
 * @param category what kind of thing: {@code config}, {@code feature}, {@code bundle}, {@code admin},
 *                 {@code security}, {@code audit}
 * @param action   what happened, e.g. {@code applied}, {@code refused}, {@code installed}, {@code command}
 * @param actor    who did it: an admin socket peer's user, {@code file} for an edit of the
 *                 configuration file, {@code daemon} for the daemon itself
 * @param outcome  {@code ok} or {@code failed}
 * @param details  what else tells the story (no secret: callers mask before they record)
 */
public record AuditEvent(String category, String action, String actor, String outcome, Map<String, String> details) {

    public static final String OK = "ok";
    public static final String FAILED = "failed";

    public AuditEvent {
        Objects.requireNonNull(category, "category");
        Objects.requireNonNull(action, "action");
        actor = actor == null || actor.isEmpty() ? "unknown" : actor;
        outcome = outcome == null || outcome.isEmpty() ? OK : outcome;
        details = details == null ? Map.of() : java.util.Collections.unmodifiableMap(new LinkedHashMap<>(details));
    }
}
