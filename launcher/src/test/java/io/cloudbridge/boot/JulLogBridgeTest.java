package io.cloudbridge.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.boot.log.LogControl;
import io.cloudbridge.boot.log.LogLevel;
import io.cloudbridge.boot.log.LogSettings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogManager;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JulLogBridgeTest {
    @TempDir
    Path dir;
    private final java.util.logging.Logger root = LogManager.getLogManager().getLogger("");
    private final Handler[] before = root.getHandlers();

    @AfterEach
    void restore() throws Exception {
        for (Handler h : root.getHandlers()) {
            root.removeHandler(h);
        }
        for (Handler h : before) {
            root.addHandler(h);
        }
        LogControl.apply(LogSettings.DEFAULT);
    }

    @Test
    void javaUtilLoggingEndsUpAsJsonLinesAndNowhereElse() throws Exception {
        Path file = dir.resolve("cb.log");
        LogControl.apply(new LogSettings(LogLevel.DEBUG, Map.of(), false, file, 1 << 20, 2));
        JulLogBridge.install();
        assertEquals(1, root.getHandlers().length, "the console handler is gone");
        java.util.logging.Logger lib = java.util.logging.Logger.getLogger("org.example.library");
        lib.setLevel(Level.ALL);
        lib.log(Level.INFO, "configured {0} from {1}", new Object[] {"defaults", "reference.conf"});
        lib.log(Level.WARNING, "retrying", new IllegalStateException("boom"));
        lib.log(Level.FINE, "detail");
        List<String> lines = Files.readAllLines(file);
        assertEquals(3, lines.size(), String.join("\n", lines));
        assertTrue(lines.get(0).contains("\"level\":\"INFO\"") && lines.get(0).contains("\"logger\":\"org.example.library\"")
                && lines.get(0).contains("configured defaults from reference.conf"), lines.get(0));
        assertTrue(lines.get(1).contains("\"level\":\"WARN\"") && lines.get(1).contains("boom"), lines.get(1));
        assertTrue(lines.get(2).contains("\"level\":\"DEBUG\""), lines.get(2));
    }
}
