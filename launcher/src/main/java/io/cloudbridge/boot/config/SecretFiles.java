package io.cloudbridge.boot.config;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * Files that hold secrets or trust (keys, tokens, pins): readable by the daemon's user only from
 * the moment they exist, and replaced in one step so that a crash never leaves half a file.
 */
public final class SecretFiles {
    private SecretFiles() {
    }

    /** Writes {@code text} to {@code file} (mode 0600), creating its folder; replaces a file already there. */
    public static void writeOwnerOnly(Path file, String text) throws IOException {
        Path folder = file.toAbsolutePath().getParent();
        Files.createDirectories(folder);
        // A temporary name of its own: two writers never share one, and it is 0600 before any byte is in it.
        Path tmp = Files.createTempFile(folder, "." + file.getFileName(), ".tmp",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        try {
            Files.writeString(tmp, text, StandardCharsets.UTF_8);
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}
