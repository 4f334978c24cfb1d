package io.cloudbridge.itest;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Comparator;
import java.util.Set;
import java.util.stream.Stream;

/**
 * A copy of the assembled distribution that another local user (one a test becomes with setpriv)
 * can read and run. The checkout's own {@code runtime/target/cloudbridge} may sit under folders no
 * other user can enter (a clone in root's home, in a {@code mktemp -d}), so a test that runs the
 * distribution as another user must never hand it that path; it hands it this copy, in the
 * temporary folder, with folders and executables {@code 755} and everything else {@code 644}.
 */
final class DistributionCopy implements AutoCloseable {
    private static final Set<PosixFilePermission> OPEN_DIR = PosixFilePermissions.fromString("rwxr-xr-x");
    private static final Set<PosixFilePermission> OPEN_FILE = PosixFilePermissions.fromString("rw-r--r--");

    final Path root;

    private DistributionCopy(Path root) {
        this.root = root;
    }

    /** Copies {@link Daemon#DIST}; fails, naming the folder, if another user could still not reach the copy. */
    static DistributionCopy forAnotherUser() throws IOException {
        Path root = Files.createTempDirectory("cloudbridge-dist");
        DistributionCopy copy = new DistributionCopy(root);
        try {
            Files.setPosixFilePermissions(root, OPEN_DIR);
            Files.walkFileTree(Daemon.DIST, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) throws IOException {
                    Path to = root.resolve(Daemon.DIST.relativize(dir).toString());
                    Files.createDirectories(to);
                    Files.setPosixFilePermissions(to, OPEN_DIR);
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                    Path to = root.resolve(Daemon.DIST.relativize(file).toString());
                    Files.copy(file, to);
                    Files.setPosixFilePermissions(to, Files.isExecutable(file) ? OPEN_DIR : OPEN_FILE);
                    return FileVisitResult.CONTINUE;
                }
            });
            // The temporary folder itself (java.io.tmpdir, TMPDIR) could be one only its owner enters.
            for (Path p = root.getParent(); p != null; p = p.getParent()) {
                if (!Files.getPosixFilePermissions(p).contains(PosixFilePermission.OTHERS_EXECUTE)) {
                    throw new IOException("another user cannot enter " + p + ", above the distribution's copy " + root
                            + ": run the tests with a temporary folder all users can enter (-Djava.io.tmpdir=/tmp)");
                }
            }
        } catch (IOException | RuntimeException e) {
            copy.close();
            throw e;
        }
        return copy;
    }

    Path script() {
        return root.resolve("bin/cloudbridge");
    }

    Path lib() {
        return root.resolve("lib");
    }

    @Override
    public void close() {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> all = Files.walk(root)) {
            for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("could not delete the distribution's copy " + root, e);
        }
    }
}
