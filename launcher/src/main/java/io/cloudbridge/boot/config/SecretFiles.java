package io.cloudbridge.boot.config;

import java.io.File;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * The one writer of files that hold secrets or trust (keys, tokens, pins, credentials): readable by
 * the daemon's user only from the moment they exist, on disk before their name points at them, and
 * replaced in one step, so that a crash leaves either the old file or the new one, never half of
 * one. Bundles reach it through the kernel's {@code RuntimeEnvironment.writeSecret}.
 */
public final class SecretFiles {
    /** Temporary files are named {@code .NAME<random>.tmp}: a crash between create and move leaves one. */
    public static final String TEMP_SUFFIX = ".tmp";

    private SecretFiles() {
    }

    /** Writes {@code text} to {@code file} (mode 0600), creating its folder; replaces a file already there. */
    public static void writeOwnerOnly(Path file, String text) throws IOException {
        Path folder = file.toAbsolutePath().getParent();
        Files.createDirectories(folder);
        boolean posix = folder.getFileSystem().supportedFileAttributeViews().contains("posix");
        // A temporary name of its own: two writers never share one, and it is 0600 before any byte is in it.
        Path tmp = posix
                ? Files.createTempFile(folder, "." + file.getFileName(), TEMP_SUFFIX,
                        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")))
                : ownerOnly(Files.createTempFile(folder, "." + file.getFileName(), TEMP_SUFFIX));
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                ByteBuffer bytes = ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8));
                while (bytes.hasRemaining()) {
                    ch.write(bytes);
                }
                ch.force(true); // the content is on disk before the name points at it
            }
            try {
                Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
        if (posix) {
            syncFolder(folder);
        }
    }

    /** Without POSIX modes (Windows): readable and writable by the owner alone, as far as java.io.File goes. */
    public static Path ownerOnly(Path p) {
        File f = p.toFile();
        f.setReadable(false, false);
        f.setWritable(false, false);
        f.setReadable(true, true);
        f.setWritable(true, true);
        if (f.isDirectory()) {
            f.setExecutable(false, false);
            f.setExecutable(true, true);
        }
        return p;
    }

    /** Makes the new name durable too; a platform that cannot open a folder costs only that. */
    private static void syncFolder(Path folder) {
        try (FileChannel ch = FileChannel.open(folder, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException | UnsupportedOperationException e) {
            // durability of the name only; the content is safe
        }
    }
}
