package io.cloudbridge.boot;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.slf4j.Logger;

/**
 * The daemon's class-data archive, which the start script has the JVM record into the state
 * folder when the daemon stops ({@code -XX:ArchiveClassesAtExit}) and map at later starts
 * ({@code -XX:SharedArchiveFile}). The daemon tells the script two things it cannot see itself:
 * that a recording daemon got as far as a started runtime (a daemon refused early loaded too few
 * classes to be worth recording), and that the JVM left a mapped archive aside (another JDK's, a
 * damaged file: the JVM says so only on stderr and starts slower, and the script would keep
 * offering it).
 */
final class ClassDataArchive {
    /** Set by the start script to the archive it asked the JVM to map. */
    static final String PROPERTY = "cloudbridge.classArchive";
    /** Set by the start script to the archive this JVM records at its exit. */
    static final String RECORDING = "cloudbridge.classArchiveRecording";

    private ClassDataArchive() {
    }

    /**
     * Once the runtime has started: marks this JVM's recording as one of a started daemon
     * ({@code ARCHIVE.started}), or removes an archive the JVM did not map.
     */
    static void started(Logger log) {
        String recording = System.getProperty(RECORDING);
        if (recording != null && !recording.isBlank()) {
            Path marker = Path.of(recording + ".started");
            try {
                Files.write(marker, new byte[0]);
            } catch (IOException e) {
                log.debug("cannot mark the class-data recording {}: {}", marker, e.toString());
            }
        }
        removeIfUnused(log);
    }

    /**
     * Removes the archive named by {@link #PROPERTY} when this JVM's memory map (Linux's
     * {@code /proc/self/maps}) does not hold it; where there is no such map nothing is checked.
     *
     * @return whether an archive was removed
     */
    static boolean removeIfUnused(Logger log) {
        String named = System.getProperty(PROPERTY);
        Path maps = Path.of("/proc/self/maps");
        if (named == null || named.isBlank() || !Files.isReadable(maps)) {
            return false;
        }
        Path archive = Path.of(named);
        try {
            // (The map names the file by its real path: the state folder may be given relative or through a link.)
            if (!Files.exists(archive) || mapped(Files.readAllLines(maps), archive.toRealPath())) {
                return false;
            }
            Files.deleteIfExists(archive);
            log.warn("the class-data archive {} was not used (damaged, or of another JDK); removed: the next start records a new one",
                    archive);
            return true;
        } catch (IOException e) {
            log.warn("cannot check the class-data archive {}: {}", archive, e.toString());
            return false;
        }
    }

    /** Whether a line of a {@code /proc/PID/maps} listing maps the file (named by its real path). */
    static boolean mapped(Iterable<String> mapsLines, Path archive) {
        String absolute = archive.toString();
        for (String line : mapsLines) {
            if (line.endsWith(" " + absolute) || line.endsWith("\t" + absolute)) {
                return true;
            }
        }
        return false;
    }
}
