package io.cloudbridge.boot.log;

import java.io.IOException;
import java.util.Map;

/**
 * The one switchboard of the log: the level checks every logger makes and the writer they share.
 * The kernel's logging component calls {@link #apply(LogSettings)} when the operator edits the
 * {@code logging} section.
 */
public final class LogControl {
    private static final JsonLogWriter WRITER = new JsonLogWriter(System.out);
    private static volatile LogSettings settings = LogSettings.DEFAULT;

    private LogControl() {
    }

    public static LogSettings settings() {
        return settings;
    }

    /** Applies new settings; the level takes effect for the very next log call. */
    public static synchronized void apply(LogSettings newSettings) throws IOException {
        WRITER.configure(newSettings);
        settings = newSettings;
    }

    /** The level in force for a logger: the longest configured prefix wins, else the root level. */
    public static LogLevel levelFor(String loggerName) {
        LogSettings s = settings;
        if (s.loggerLevels().isEmpty()) {
            return s.level();
        }
        String best = null;
        for (String prefix : s.loggerLevels().keySet()) {
            if ((loggerName.equals(prefix) || loggerName.startsWith(prefix + "."))
                    && (best == null || prefix.length() > best.length())) {
                best = prefix;
            }
        }
        return best == null ? s.level() : s.loggerLevels().get(best);
    }

    public static boolean isEnabled(String loggerName, LogLevel level) {
        return levelFor(loggerName).enables(level);
    }

    static void write(String line) {
        WRITER.write(line);
    }

    /** The daemon's last log lines (up to a thousand, half a megabyte), oldest first: what a bug report carries. */
    public static java.util.List<String> recentLines() {
        return WRITER.recent();
    }

    /** Logs one event as one JSON line, for sources that are not SLF4J loggers (the OSGi log). */
    public static void log(LogLevel level, String logger, String message, Map<String, String> context,
            Throwable error) {
        if (isEnabled(logger, level)) {
            write(JsonLogWriter.format(java.time.Instant.now(), level, logger, message, context, error));
        }
    }
}
