package io.cloudbridge.boot.log;

import java.util.Locale;

/** The levels an operator can set, most verbose first. */
public enum LogLevel {
    TRACE, DEBUG, INFO, WARN, ERROR, OFF;

    /** Parses a level name case-insensitively; {@code null} when the name is not a level. */
    public static LogLevel parse(String name) {
        if (name == null) {
            return null;
        }
        try {
            return valueOf(name.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException notALevel) {
            return null;
        }
    }

    public boolean enables(LogLevel messageLevel) {
        return this != OFF && messageLevel.ordinal() >= ordinal();
    }
}
