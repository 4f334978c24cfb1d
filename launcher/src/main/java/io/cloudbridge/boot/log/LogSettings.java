package io.cloudbridge.boot.log;

import java.nio.file.Path;
import java.util.Map;

/**
 * What the operator chose for the log: the root level, per-logger levels, whether to write to
 * standard output, and an optional file rotated by size.
 *
 * @param level          the root level
 * @param loggerLevels   levels for logger-name prefixes (a bundle's symbolic name, a package)
 * @param stdout         write to standard output
 * @param file           a log file, or {@code null} for none
 * @param maxFileBytes   the size at which the file is rotated
 * @param maxFiles       how many rotated files are kept beside the live one
 */
public record LogSettings(LogLevel level, Map<String, LogLevel> loggerLevels, boolean stdout, Path file,
        long maxFileBytes, int maxFiles) {

    public static final LogSettings DEFAULT = new LogSettings(LogLevel.INFO, Map.of(), true, null,
            10L * 1024 * 1024, 5);

    public LogSettings {
        loggerLevels = Map.copyOf(loggerLevels);
        if (maxFileBytes < 1024) {
            throw new IllegalArgumentException("maxFileBytes must be at least 1024");
        }
        if (maxFiles < 1) {
            throw new IllegalArgumentException("maxFiles must be at least 1");
        }
    }

    public LogSettings withLevel(LogLevel newLevel) {
        return new LogSettings(newLevel, loggerLevels, stdout, file, maxFileBytes, maxFiles);
    }
}
