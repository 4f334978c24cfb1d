package io.cloudbridge.credentials.internal;

import io.cloudbridge.api.auth.CredentialStore;
import java.io.File;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Secrets as files readable by the daemon's user only: a 0700 folder, one 0600 file an entry whose
 * content is the secret alone (UTF-8). The file's name is the SHA-256 of service and account, so no
 * name needs escaping and none says what the file holds. A write goes to a temporary file that is
 * then moved over the entry, so a reader (or a crash) never sees half a secret.
 *
 * <p>Nothing is created until the first write: a keyring-backed node that never falls back leaves
 * no folder behind.
 */
final class FileCredentialStore implements CredentialStore {
    static final String BACKEND = "file";
    private static final Logger LOG = LoggerFactory.getLogger(FileCredentialStore.class);
    private static final Pattern ENTRY = Pattern.compile("[0-9a-f]{64}");
    private static final String LEGACY_TEMP_PREFIX = ".tmp-";
    private static final String TEMP_SUFFIX = ".tmp";
    private static final Set<PosixFilePermission> FOLDER_MODE = PosixFilePermissions.fromString("rwx------");
    private static final Set<PosixFilePermission> FILE_MODE = PosixFilePermissions.fromString("rw-------");

    private final Path folder;
    private final boolean posix;
    private final SecretWriter writer;

    /** Writes one secret file, owner-only and in one step: the runtime's own writer. */
    @FunctionalInterface
    interface SecretWriter {
        void write(Path file, String text) throws IOException;
    }

    FileCredentialStore(Path folder, SecretWriter writer) {
        this.folder = folder.toAbsolutePath().normalize();
        this.writer = writer;
        this.posix = this.folder.getFileSystem().supportedFileAttributeViews().contains("posix");
    }

    @Override
    public String backend() {
        return BACKEND;
    }

    Path folder() {
        return folder;
    }

    /** The file an entry is kept in; service and account are length-prefixed so no two pairs share a name. */
    Path fileOf(String service, String account) {
        check(service, account);
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(
                    (service.length() + ":" + service + "\n" + account).getBytes(StandardCharsets.UTF_8));
            return folder.resolve(HexFormat.of().formatHex(digest));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java runtime has SHA-256", e);
        }
    }

    @Override
    public synchronized Optional<String> read(String service, String account) throws IOException {
        Path file = fileOf(service, account);
        try {
            String secret = Files.readString(file, StandardCharsets.UTF_8);
            tighten(file, FILE_MODE);
            return Optional.of(secret);
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
    }

    @Override
    public synchronized void write(String service, String account, String secret) throws IOException {
        if (secret == null) {
            throw new IllegalArgumentException("a secret may be empty, not null");
        }
        Path file = fileOf(service, account);
        ensureFolder();
        writer.write(file, secret);
    }

    @Override
    public synchronized boolean delete(String service, String account) throws IOException {
        boolean deleted = Files.deleteIfExists(fileOf(service, account));
        if (deleted) {
            syncFolder();
        }
        return deleted;
    }

    /** How many entries the folder holds. */
    synchronized int count() throws IOException {
        if (!Files.isDirectory(folder)) {
            return 0;
        }
        int n = 0;
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(folder)) {
            for (Path p : entries) {
                if (ENTRY.matcher(p.getFileName().toString()).matches()) {
                    n++;
                }
            }
        }
        return n;
    }

    /** Removes what a crash between create and move left behind; secrets of no entry. */
    synchronized void removeLeftovers() throws IOException {
        if (!Files.isDirectory(folder)) {
            return;
        }
        // The writer's temporary names (".ENTRY<random>.tmp"), and those of earlier versions (".tmp-*").
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(folder, p -> {
            String name = p.getFileName().toString();
            return name.startsWith(LEGACY_TEMP_PREFIX) || name.endsWith(TEMP_SUFFIX) && name.length() > 65
                    && ENTRY.matcher(name.substring(1, 65)).matches() && name.charAt(0) == '.';
        })) {
            for (Path p : entries) {
                Files.deleteIfExists(p);
            }
        }
    }

    private void ensureFolder() throws IOException {
        if (Files.isDirectory(folder)) {
            tighten(folder, FOLDER_MODE);
            return;
        }
        if (posix) {
            FileAttribute<Set<PosixFilePermission>> mode = PosixFilePermissions.asFileAttribute(FOLDER_MODE);
            Files.createDirectories(folder, mode);
            // createDirectories applies the umask; the mode is what it must be, whatever the umask.
            Files.setPosixFilePermissions(folder, FOLDER_MODE);
        } else {
            Files.createDirectories(folder);
            ownerOnly(folder);
        }
    }

    /** Takes group and other access away from what has more than owner access. */
    private void tighten(Path p, Set<PosixFilePermission> mode) throws IOException {
        if (!posix) {
            return;
        }
        Set<PosixFilePermission> now = Files.getPosixFilePermissions(p);
        if (!now.equals(mode)) {
            Files.setPosixFilePermissions(p, mode);
            LOG.warn("{} was mode {}; set to {}", p, PosixFilePermissions.toString(now), PosixFilePermissions.toString(mode));
        }
    }

    /** Without POSIX modes (Windows): readable and writable by the owner alone, as far as java.io.File goes. */
    private static Path ownerOnly(Path p) {
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

    /** Makes the new name durable too; not every platform can open a folder, which costs only durability. */
    private void syncFolder() {
        if (!posix) {
            return;
        }
        try (FileChannel ch = FileChannel.open(folder, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException | UnsupportedOperationException e) {
            LOG.debug("cannot sync {}: {}", folder, e.toString());
        }
    }

    static void check(String service, String account) {
        if (service == null || service.isEmpty() || account == null || account.isEmpty()) {
            throw new IllegalArgumentException("an entry needs a service and an account, neither empty");
        }
    }
}
