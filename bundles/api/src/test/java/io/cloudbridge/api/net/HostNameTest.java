package io.cloudbridge.api.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HostNameTest {
    @TempDir
    Path dir;

    @Test
    void theKernelsNameComesFirstAndNeedsNoResolver() throws Exception {
        Path kernel = Files.writeString(dir.resolve("hostname"), "vm-that-resolves-nowhere\n");
        assertEquals("vm-that-resolves-nowhere", HostName.of(kernel, Map.of("HOSTNAME", "other")));
    }

    @Test
    void withoutTheKernelsFileTheEnvironmentNamesIt() {
        Path none = dir.resolve("absent");
        assertEquals("WIN-BUILD7", HostName.of(none, Map.of("COMPUTERNAME", "WIN-BUILD7")));
        assertEquals("shell-host", HostName.of(none, Map.of("HOSTNAME", " shell-host ")));
        Path blank = dir.resolve("blank");
        writeBlank(blank);
        assertEquals("shell-host", HostName.of(blank, Map.of("HOSTNAME", "shell-host")));
    }

    private static void writeBlank(Path file) {
        try {
            Files.writeString(file, "\n");
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    void thisMachineAlwaysHasAName() {
        assertFalse(HostName.ofThisMachine().isBlank());
    }
}
