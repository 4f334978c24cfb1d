package io.cloudbridge.boot.log;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

class JsonLogTest {
    @TempDir
    Path dir;

    @AfterEach
    void restore() throws Exception {
        LogControl.apply(LogSettings.DEFAULT);
    }

    @Test
    void oneEventIsOneEscapedJsonLine() {
        Map<String, String> ctx = new LinkedHashMap<>();
        ctx.put("correlationId", "c-1");
        String line = JsonLogWriter.format(Instant.parse("2026-01-02T03:04:05Z"), LogLevel.WARN, "a.b",
                "quote \" backslash \\ newline \n tab \t bell \u0007", ctx, new IllegalStateException("boom"));
        assertFalse(line.contains("\n"), "a single line");
        assertTrue(line.startsWith("{\"time\":\"2026-01-02T03:04:05Z\",\"level\":\"WARN\",\"logger\":\"a.b\","), line);
        assertTrue(line.contains("quote \\\" backslash \\\\ newline \\n tab \\t bell \\u0007"), line);
        assertTrue(line.contains("\"correlationId\":\"c-1\""), line);
        assertTrue(line.contains("\"exception\":\"java.lang.IllegalStateException: boom\\n"), line);
        assertTrue(line.endsWith("}"));
    }

    @Test
    void levelsApplyByLongestLoggerPrefix() throws Exception {
        LogControl.apply(new LogSettings(LogLevel.WARN, Map.of("org.x", LogLevel.DEBUG, "org.x.quiet", LogLevel.ERROR),
                true, null, 1024, 1));
        assertTrue(LogControl.isEnabled("org.x.y", LogLevel.DEBUG));
        assertFalse(LogControl.isEnabled("org.x.quiet.z", LogLevel.WARN));
        assertFalse(LogControl.isEnabled("org.xy", LogLevel.INFO), "a prefix matches whole name segments");
        assertTrue(LogControl.isEnabled("other", LogLevel.WARN));
    }

    @Test
    void slf4jWritesToTheFileWithTheMdcAndRotates() throws Exception {
        Path file = dir.resolve("logs/cb.log");
        LogControl.apply(new LogSettings(LogLevel.INFO, Map.of(), false, file, 2048, 2));
        MDC.put("correlationId", "req-7");
        try {
            for (int i = 0; i < 60; i++) {
                LoggerFactory.getLogger("test.rotation").info("message {} of sixty", i);
            }
            LoggerFactory.getLogger("test.rotation").debug("below the level");
        } finally {
            MDC.remove("correlationId");
        }
        assertTrue(Files.exists(file));
        assertTrue(Files.exists(dir.resolve("logs/cb.log.1")));
        assertTrue(Files.exists(dir.resolve("logs/cb.log.2")));
        assertFalse(Files.exists(dir.resolve("logs/cb.log.3")), "only maxFiles rotated files are kept");
        assertTrue(Files.size(file) <= 2048);
        String live = Files.readString(file, StandardCharsets.UTF_8);
        assertTrue(live.contains("\"message\":\"message 59 of sixty\""), live);
        assertTrue(live.contains("\"correlationId\":\"req-7\""), live);
        assertFalse(live.contains("below the level"));
        for (String line : live.split("\n")) {
            assertTrue(line.startsWith("{") && line.endsWith("}"), line);
        }
    }

    @Test
    void levelNamesParse() {
        assertEquals(LogLevel.DEBUG, LogLevel.parse(" Debug "));
        assertEquals(null, LogLevel.parse("loud"));
        assertFalse(LogLevel.OFF.enables(LogLevel.ERROR));
    }
}
