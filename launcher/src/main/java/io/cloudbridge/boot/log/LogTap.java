package io.cloudbridge.boot.log;

import java.time.Instant;
import java.util.Map;

/**
 * Receives the events of some loggers whatever level the log is set to: the audit trail keeps the
 * security events ({@code io.cloudbridge.security}) even where the operator turned the log down to
 * errors. Called on the logging thread: a tap records and returns, and never throws.
 */
@FunctionalInterface
public interface LogTap {
    void event(Instant time, LogLevel level, String logger, String message, Map<String, String> context);
}
