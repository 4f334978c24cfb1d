package io.cloudbridge.boot.log;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * A log file that rolls over by size: {@code name} is live, {@code name.1} the newest rotated
 * one, up to {@code name.N}. Not thread-safe: {@link JsonLogWriter} serialises writes.
 */
public final class RotatingFileSink implements AutoCloseable {
    private final Path file;
    private final long maxBytes;
    private final int maxFiles;
    private OutputStream out;
    private long written;

    RotatingFileSink(Path file, long maxBytes, int maxFiles) throws IOException {
        this.file = file.toAbsolutePath();
        this.maxBytes = maxBytes;
        this.maxFiles = maxFiles;
        Path parent = this.file.getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        open();
    }

    Path file() {
        return file;
    }

    private void open() throws IOException {
        out = Files.newOutputStream(file, StandardOpenOption.CREATE, StandardOpenOption.APPEND,
                StandardOpenOption.WRITE);
        written = Files.size(file);
    }

    void write(byte[] line) throws IOException {
        if (written > 0 && written + line.length > maxBytes) {
            rotate();
        }
        out.write(line);
        out.flush();
        written += line.length;
    }

    private void rotate() throws IOException {
        out.close();
        shift(file, maxFiles);
        open();
    }

    /**
     * Moves {@code file} to {@code file.1}, {@code file.1} to {@code file.2} and so on, deleting
     * {@code file.maxFiles}: the rotation of this log and of the audit trail.
     */
    public static void shift(Path file, int maxFiles) throws IOException {
        Files.deleteIfExists(numbered(file, maxFiles));
        for (int i = maxFiles - 1; i >= 1; i--) {
            Path from = numbered(file, i);
            if (Files.exists(from)) {
                Files.move(from, numbered(file, i + 1), StandardCopyOption.REPLACE_EXISTING);
            }
        }
        Files.move(file, numbered(file, 1), StandardCopyOption.REPLACE_EXISTING);
    }

    /** {@code file.n}. */
    public static Path numbered(Path file, int n) {
        return file.resolveSibling(file.getFileName() + "." + n);
    }

    @Override
    public void close() throws IOException {
        out.close();
    }
}
