package io.cloudbridge.boot.log;

import java.io.IOException;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The one switchboard of the log: the level checks every logger makes and the writer they share.
 * The kernel's logging component calls {@link #apply(LogSettings)} when the operator edits the
 * {@code logging} section.
 */
public final class LogControl {
    private static final JsonLogWriter WRITER = new JsonLogWriter(System.out);
    private static volatile LogSettings settings = LogSettings.DEFAULT;
    private static final CopyOnWriteArrayList<Tapped> TAPS = new CopyOnWriteArrayList<>();

    /** A tap and the events it takes: its loggers (a prefix, as in the level settings) from a level up. */
    private record Tapped(String loggerPrefix, LogLevel lowest, LogTap tap) {
        boolean takes(String logger, LogLevel level) {
            return (logger.equals(loggerPrefix) || logger.startsWith(loggerPrefix + ".")) && lowest.enables(level);
        }
    }

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

    /** Whether an event is wanted at all: by the log's level, or by a tap. */
    public static boolean isEnabled(String loggerName, LogLevel level) {
        return levelFor(loggerName).enables(level) || tapped(loggerName, level);
    }

    /**
     * Hands {@code tap} every event of the loggers named {@code loggerPrefix} (and below it) from
     * {@code lowest} up, whether or not the log writes them; closing the result stops it.
     */
    public static AutoCloseable tap(String loggerPrefix, LogLevel lowest, LogTap tap) {
        Tapped tapped = new Tapped(loggerPrefix, lowest, tap);
        TAPS.add(tapped);
        return () -> TAPS.remove(tapped);
    }

    private static boolean tapped(String logger, LogLevel level) {
        if (TAPS.isEmpty()) {
            return false;
        }
        for (Tapped t : TAPS) {
            if (t.takes(logger, level)) {
                return true;
            }
        }
        return false;
    }

    /** One event: written where the log's level wants it, and handed to the taps that take it. */
    static void emit(Instant time, LogLevel level, String logger, String message, Map<String, String> context,
            Throwable error) {
        if (levelFor(logger).enables(level)) {
            write(JsonLogWriter.format(time, level, logger, message, context, error));
        }
        for (Tapped t : TAPS) {
            if (t.takes(logger, level)) {
                try {
                    t.tap().event(time, level, logger, message, context == null ? Map.of() : context);
                } catch (RuntimeException e) {
                    write(JsonLogWriter.format(Instant.now(), LogLevel.ERROR, "io.cloudbridge.boot.log",
                            "a log tap failed: " + e, Map.of(), null));
                }
            }
        }
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
            emit(Instant.now(), level, logger, message, context, error);
        }
    }
}
