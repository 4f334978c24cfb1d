package io.cloudbridge.boot;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class ClassDataArchiveTest {
    private static final Path ARCHIVE = Path.of("/var/lib/cloudbridge/jvm/classes-123.jsa");

    @Test
    void aMappedArchiveIsFoundByItsPath() {
        List<String> maps = List.of(
                "7f0000000000-7f0000100000 r--p 00000000 08:01 1234                       /usr/lib/jvm/java-17/lib/server/classes.jsa",
                "800000000-800e00000 rw-p 00001000 08:01 5678                               /var/lib/cloudbridge/jvm/classes-123.jsa");
        assertTrue(ClassDataArchive.mapped(maps, ARCHIVE));
    }

    @Test
    void anArchiveTheJvmLeftAsideIsNotFound() {
        List<String> maps = List.of(
                "7f0000000000-7f0000100000 r--p 00000000 08:01 1234                       /usr/lib/jvm/java-17/lib/server/classes.jsa",
                // a longer name that merely starts with the archive's is another file
                "800000000-800e00000 rw-p 00001000 08:01 5678                               /var/lib/cloudbridge/jvm/classes-123.jsa.new",
                "7f0000200000-7f0000300000 rw-p 00000000 00:00 0");
        assertFalse(ClassDataArchive.mapped(maps, ARCHIVE));
    }
}
