package io.cloudbridge.metrics.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class ResidentMemoryTest {
    /** statm in pages against status's VmRSS in kB: two views of one figure, read a moment apart. */
    @Test
    void agreesWithTheKernelsStatusFile() throws Exception {
        Path status = Path.of("/proc/self/status");
        assumeTrue(Files.exists(status), "no /proc: not Linux");
        long before = vmRssBytes(status);
        double resident = ResidentMemory.bytes();
        long after = vmRssBytes(status);
        long low = Math.min(before, after);
        long high = Math.max(before, after);
        assertTrue(resident >= low * 0.9 && resident <= high * 1.1, resident + " bytes against VmRSS " + low + ".." + high);
    }

    @Test
    void parsesTheResidentField() {
        assertEquals(2150, ResidentMemory.parse("9321 2150 1012 2 0 7100 0\n"));
        assertThrows(IllegalArgumentException.class, () -> ResidentMemory.parse("9321"));
        assertThrows(NumberFormatException.class, () -> ResidentMemory.parse("9321 lots"));
    }

    private static long vmRssBytes(Path status) throws Exception {
        for (String line : Files.readAllLines(status)) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        }
        throw new AssertionError("no VmRSS line");
    }
}
