package io.cloudbridge.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Base64;

/** A fleet key file as an operator makes one ({@code head -c 32 /dev/urandom | base64}, owner-only), for the tests that use one. */
public final class FleetKeyFiles {
    private FleetKeyFiles() {
    }

    /** Writes {@code bytes} random bytes in Base64 to {@code file}, readable by its owner alone; returns {@code file}. */
    public static Path write(Path file, int bytes) throws IOException {
        byte[] key = new byte[bytes];
        new SecureRandom().nextBytes(key);
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.writeString(tmp, Base64.getEncoder().encodeToString(key) + "\n");
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-------"));
        Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        return file;
    }
}
