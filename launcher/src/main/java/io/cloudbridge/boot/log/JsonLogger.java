package io.cloudbridge.boot.log;

import java.time.Instant;
import java.util.Map;
import org.slf4j.MDC;
import org.slf4j.Marker;
import org.slf4j.event.Level;
import org.slf4j.helpers.AbstractLogger;
import org.slf4j.helpers.MessageFormatter;

/** An SLF4J logger writing JSON lines; the MDC (correlation id and friends) becomes fields. */
final class JsonLogger extends AbstractLogger {
    private static final long serialVersionUID = 1L;
    /** One for all loggers: a flood of one kind is one kind, whichever logger instance writes it. */
    private static final FloodGuard FLOOD_GUARD = new FloodGuard(System::nanoTime);

    JsonLogger(String name) {
        this.name = name;
    }

    private boolean on(LogLevel level) {
        return LogControl.isEnabled(name, level);
    }

    @Override public boolean isTraceEnabled() { return on(LogLevel.TRACE); }
    @Override public boolean isTraceEnabled(Marker marker) { return on(LogLevel.TRACE); }
    @Override public boolean isDebugEnabled() { return on(LogLevel.DEBUG); }
    @Override public boolean isDebugEnabled(Marker marker) { return on(LogLevel.DEBUG); }
    @Override public boolean isInfoEnabled() { return on(LogLevel.INFO); }
    @Override public boolean isInfoEnabled(Marker marker) { return on(LogLevel.INFO); }
    @Override public boolean isWarnEnabled() { return on(LogLevel.WARN); }
    @Override public boolean isWarnEnabled(Marker marker) { return on(LogLevel.WARN); }
    @Override public boolean isErrorEnabled() { return on(LogLevel.ERROR); }
    @Override public boolean isErrorEnabled(Marker marker) { return on(LogLevel.ERROR); }

    @Override
    protected String getFullyQualifiedCallerName() {
        return null;
    }

    @Override
    protected void handleNormalizedLoggingCall(Level level, Marker marker, String pattern, Object[] args,
            Throwable throwable) {
        if (FloodGuard.guards(name)) {
            for (String report : FLOOD_GUARD.quietReports()) {
                LogControl.emit(Instant.now(), LogLevel.WARN, name, report, Map.of(), null);
            }
            long leftOut = FLOOD_GUARD.admit(pattern, args);
            if (leftOut < 0) {
                return;
            }
            if (leftOut > 0) {
                LogControl.emit(Instant.now(), LogLevel.WARN, name, FloodGuard.report(leftOut, pattern), Map.of(), null);
            }
        }
        String message = MessageFormatter.basicArrayFormat(pattern, args);
        Map<String, String> context = MDC.getCopyOfContextMap();
        LogControl.emit(Instant.now(), LogLevel.valueOf(level.name()), name, message, context, throwable);
    }
}
