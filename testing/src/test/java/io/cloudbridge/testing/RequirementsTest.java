package io.cloudbridge.testing;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.opentest4j.AssertionFailedError;
import org.opentest4j.TestAbortedException;

class RequirementsTest {
    @TempDir
    Path tmp;

    @Test
    void aMissingRequirementSkipsWithOneLineOutsideCiAndFailsInCi() {
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(printed, true, StandardCharsets.UTF_8);
        TestAbortedException skipped = assertThrows(TestAbortedException.class,
                () -> Requirements.require(false, "the tool frob", "apt-get install frob", false, out));
        assertEquals("RequirementsTest needs the tool frob: apt-get install frob", skipped.getMessage());
        assertEquals("[SKIPPED] RequirementsTest needs the tool frob: apt-get install frob\n", printed.toString(StandardCharsets.UTF_8));
        AssertionFailedError failed = assertThrows(AssertionFailedError.class,
                () -> Requirements.require(false, "the tool frob", "apt-get install frob", true, out));
        assertTrue(failed.getMessage().endsWith("RequirementsTest needs the tool frob: apt-get install frob"), failed.getMessage());
        assertDoesNotThrow(() -> Requirements.require(true, "the tool frob", "apt-get install frob", true, out));
        assertEquals(1, printed.toString(StandardCharsets.UTF_8).lines().count(), "CI fails, and prints no skip line");
    }

    @Test
    void toolsAreFoundOnThePathAndInTheSbinFolders() throws Exception {
        Path bin = Files.createDirectory(tmp.resolve("bin"));
        Path tool = Files.createFile(bin.resolve("cb-test-tool"), PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwxr-xr-x")));
        Files.createFile(bin.resolve("cb-not-executable"));
        assertEquals(Optional.of(tool), Requirements.find("cb-test-tool", "/nonexistent:" + bin));
        assertEquals(Optional.empty(), Requirements.find("cb-not-executable", bin.toString()));
        assertEquals(Optional.empty(), Requirements.find("cb-test-tool", "/nonexistent"));
        // An ordinary user's PATH has no sbin folder; a daemon installed there is still found.
        Optional<Path> sbinTool = Requirements.find("ldconfig", "/nonexistent"); // in /sbin or /usr/sbin on every glibc Linux
        assertTrue(sbinTool.isPresent() && sbinTool.get().getParent().toString().endsWith("sbin"), sbinTool.toString());
    }
}
