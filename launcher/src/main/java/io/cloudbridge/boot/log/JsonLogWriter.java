package io.cloudbridge.boot.log;

import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Map;

/**
 * Turns one log event into one JSON object on one line and writes it to standard output and, when
 * configured, a rotating file. Every SLF4J logger and the OSGi log end up here.
 */
public final class JsonLogWriter {
    /** The last lines kept in memory, for a bug report ({@code cb:bugreport}): at most this many, and this many characters. */
    static final int RECENT_LINES = 1_000;
    static final int RECENT_CHARS = 512 * 1024;
    private final PrintStream stdout;
    private RotatingFileSink fileSink;
    private boolean toStdout = true;
    private final ArrayDeque<String> recent = new ArrayDeque<>();
    private int recentChars;

    JsonLogWriter(PrintStream stdout) {
        this.stdout = stdout;
    }

    synchronized void configure(LogSettings settings) throws IOException {
        toStdout = settings.stdout();
        if (fileSink != null && (settings.file() == null
                || !fileSink.file().equals(settings.file().toAbsolutePath()))) {
            fileSink.close();
            fileSink = null;
        }
        if (settings.file() != null && fileSink == null) {
            fileSink = new RotatingFileSink(settings.file(), settings.maxFileBytes(), settings.maxFiles());
        }
    }

    /** The last lines written, oldest first. */
    synchronized List<String> recent() {
        return List.copyOf(recent);
    }

    /** Formats an event; public so that tests and the OSGi log bridge produce the same shape. */
    public static String format(Instant time, LogLevel level, String logger, String message,
            Map<String, String> context, Throwable error) {
        StringBuilder sb = new StringBuilder(160);
        sb.append("{\"time\":\"").append(time).append("\",\"level\":\"").append(level.name())
                .append("\",\"logger\":");
        Json.appendString(sb, logger);
        sb.append(",\"message\":");
        Json.appendString(sb, message == null ? "" : message);
        if (context != null) {
            for (Map.Entry<String, String> e : context.entrySet()) {
                if (e.getValue() != null) {
                    sb.append(',');
                    Json.appendString(sb, e.getKey());
                    sb.append(':');
                    Json.appendString(sb, e.getValue());
                }
            }
        }
        if (error != null) {
            StringWriter trace = new StringWriter();
            error.printStackTrace(new PrintWriter(trace));
            sb.append(",\"exception\":");
            Json.appendString(sb, trace.toString());
        }
        return sb.append('}').toString();
    }

    synchronized void write(String line) {
        // (A line longer than the ring, a long stack trace, is kept cut short rather than emptying it.)
        String kept = line.length() > RECENT_CHARS / 8 ? line.substring(0, RECENT_CHARS / 8) + "...\"}" : line;
        recent.addLast(kept);
        recentChars += kept.length();
        while (recent.size() > RECENT_LINES || recentChars > RECENT_CHARS) {
            recentChars -= recent.removeFirst().length();
        }
        if (toStdout) {
            stdout.println(line);
            stdout.flush();
        }
        if (fileSink != null) {
            try {
                fileSink.write((line + "\n").getBytes(StandardCharsets.UTF_8));
            } catch (IOException e) {
                // The file failed (disk full, removed folder): keep logging to stdout rather than
                // lose the daemon's only record, and say so once there.
                stdout.println(format(Instant.now(), LogLevel.ERROR, "io.cloudbridge.boot.log",
                        "log file write failed; continuing on stdout only", Map.of(), e));
                toStdout = true;
                try {
                    fileSink.close();
                } catch (IOException ignored) {
                    // already failing
                }
                fileSink = null;
            }
        }
    }
}
