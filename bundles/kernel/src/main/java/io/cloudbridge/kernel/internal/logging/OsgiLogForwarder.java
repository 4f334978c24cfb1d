package io.cloudbridge.kernel.internal.logging;

import io.cloudbridge.boot.log.LogControl;
import io.cloudbridge.boot.log.LogLevel;
import java.util.HashMap;
import java.util.Map;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.log.LogEntry;
import org.osgi.service.log.LogListener;
import org.osgi.service.log.LogReaderService;

/**
 * Sends everything logged through the OSGi LogService (SCR, ConfigAdmin, FileInstall and any
 * bundle that uses it) into the same JSON lines as SLF4J.
 */
@Component(immediate = true, service = {})
public final class OsgiLogForwarder implements LogListener {
    @Reference
    private LogReaderService reader;

    @Activate
    void activate() {
        // Entries logged before this bundle started are in the reader's history, newest first:
        // replay them so the JSON log is complete from the framework's first message.
        java.util.List<LogEntry> backlog = java.util.Collections.list(reader.getLog());
        java.util.Collections.reverse(backlog);
        backlog.forEach(this::logged);
        reader.addLogListener(this);
    }

    @Deactivate
    void deactivate() {
        reader.removeLogListener(this);
    }

    @Override
    public void logged(LogEntry entry) {
        LogLevel level = switch (entry.getLogLevel()) {
            case AUDIT, ERROR -> LogLevel.ERROR;
            case WARN -> LogLevel.WARN;
            case INFO -> LogLevel.INFO;
            case DEBUG -> LogLevel.DEBUG;
            default -> LogLevel.TRACE;
        };
        if (level.ordinal() < LogLevel.WARN.ordinal() && entry.getLoggerName() != null
                && entry.getLoggerName().startsWith("Events.")) {
            // The log service records every framework event at INFO; that is debugging detail.
            level = LogLevel.DEBUG;
        }
        String bundle = entry.getBundle() == null ? "unknown" : String.valueOf(entry.getBundle().getSymbolicName());
        String logger = entry.getLoggerName() == null || entry.getLoggerName().equals("LogService")
                ? bundle : entry.getLoggerName();
        Map<String, String> context = new HashMap<>();
        context.put("bundle", bundle);
        if (entry.getServiceReference() != null) {
            context.put("service", String.valueOf(entry.getServiceReference().getProperty("objectClass") instanceof String[] a
                    ? String.join(",", a) : entry.getServiceReference()));
        }
        LogControl.log(level, logger, entry.getMessage(), context, entry.getException());
    }
}
