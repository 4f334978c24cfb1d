package io.cloudbridge.boot;

import io.cloudbridge.boot.log.LogControl;
import io.cloudbridge.boot.log.LogLevel;
import java.util.Map;
import java.util.logging.Formatter;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogManager;
import java.util.logging.LogRecord;
import java.util.logging.SimpleFormatter;

/**
 * Sends what libraries log through java.util.logging (gRPC, ice4j and jitsi-utils) into the JSON
 * log. Left alone, the JDK's console handler writes plain lines to System.err: into the daemon's
 * log as text among the JSON, or, since Gogo routes System.err per shell session, into the output
 * of whichever admin command happened to run the library's code.
 */
final class JulLogBridge extends Handler {
    private final Formatter formatter = new SimpleFormatter();

    /** Replaces the root logger's handlers with this bridge. */
    static void install() {
        java.util.logging.Logger root = LogManager.getLogManager().getLogger("");
        for (Handler h : root.getHandlers()) {
            root.removeHandler(h);
        }
        root.addHandler(new JulLogBridge());
    }

    @Override
    public void publish(LogRecord r) {
        if (r == null || !isLoggable(r)) {
            return;
        }
        int level = r.getLevel().intValue();
        LogLevel mapped = level >= Level.SEVERE.intValue() ? LogLevel.ERROR
                : level >= Level.WARNING.intValue() ? LogLevel.WARN
                : level >= Level.INFO.intValue() ? LogLevel.INFO
                : LogLevel.DEBUG;
        String logger = r.getLoggerName() == null || r.getLoggerName().isEmpty() ? String.valueOf(r.getSourceClassName()) : r.getLoggerName();
        LogControl.log(mapped, logger, formatter.formatMessage(r), Map.of(), r.getThrown());
    }

    @Override
    public void flush() {
    }

    @Override
    public void close() {
    }
}
