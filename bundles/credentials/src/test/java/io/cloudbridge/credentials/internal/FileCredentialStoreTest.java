package io.cloudbridge.credentials.internal;

import io.cloudbridge.boot.config.SecretFiles;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FileCredentialStoreTest {
    @TempDir
    Path tmp;

    @Test
    void writesReadsAndDeletes() throws Exception {
        FileCredentialStore store = new FileCredentialStore(tmp.resolve("credentials"), SecretFiles::writeOwnerOnly);
        assertEquals("file", store.backend());
        store.write("io.cloudbridge.wireguard", "private-key", "c2VjcmV0IGtleQ==");
        assertEquals(Optional.of("c2VjcmV0IGtleQ=="), store.read("io.cloudbridge.wireguard", "private-key"));
        assertEquals(1, store.count());
        assertTrue(store.delete("io.cloudbridge.wireguard", "private-key"));
        assertEquals(Optional.empty(), store.read("io.cloudbridge.wireguard", "private-key"));
        assertFalse(store.delete("io.cloudbridge.wireguard", "private-key"));
        assertEquals(0, store.count());
    }

    @Test
    void keepsOwnerOnlyFilesInAnOwnerOnlyFolder() throws Exception {
        Path folder = tmp.resolve("state").resolve("credentials");
        FileCredentialStore store = new FileCredentialStore(folder, SecretFiles::writeOwnerOnly);
        assertFalse(Files.exists(folder), "nothing is created before the first write");
        store.write("svc", "acct", "s3cret");
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(folder)));
        Path file = store.fileOf("svc", "acct");
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
        assertEquals("s3cret", Files.readString(file, StandardCharsets.UTF_8), "the file holds the secret alone");
        assertEquals(List.of(file.getFileName().toString()), names(folder), "no temporary file is left");
    }

    @Test
    void tightensAFolderAndAFileThatWereTooOpen() throws Exception {
        Path folder = Files.createDirectory(tmp.resolve("open"));
        Files.setPosixFilePermissions(folder, PosixFilePermissions.fromString("rwxr-xr-x"));
        FileCredentialStore store = new FileCredentialStore(folder, SecretFiles::writeOwnerOnly);
        store.write("svc", "acct", "one");
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(folder)));
        Path file = store.fileOf("svc", "acct");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
        assertEquals(Optional.of("one"), store.read("svc", "acct"));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
    }

    @Test
    void overwritesInPlace() throws Exception {
        FileCredentialStore store = new FileCredentialStore(tmp, SecretFiles::writeOwnerOnly);
        store.write("io.cloudbridge.control", "refresh-token", "first");
        store.write("io.cloudbridge.control", "refresh-token", "second, longer than the first");
        store.write("io.cloudbridge.control", "refresh-token", "3rd");
        assertEquals(Optional.of("3rd"), store.read("io.cloudbridge.control", "refresh-token"));
        assertEquals(1, store.count());
        assertEquals("rw-------", PosixFilePermissions.toString(
                Files.getPosixFilePermissions(store.fileOf("io.cloudbridge.control", "refresh-token"))));
    }

    @Test
    void unknownEntriesAreEmpty() throws Exception {
        FileCredentialStore store = new FileCredentialStore(tmp.resolve("never-written"), SecretFiles::writeOwnerOnly);
        assertEquals(Optional.empty(), store.read("nobody", "nothing"));
        assertFalse(store.delete("nobody", "nothing"));
        assertEquals(0, store.count());
        store.write("somebody", "something", "x");
        assertEquals(Optional.empty(), store.read("somebody", "something else"));
        assertEquals(Optional.empty(), store.read("somebody else", "something"));
    }

    @Test
    void oddNamesStayInsideTheFolderAndApart() throws Exception {
        Path folder = tmp.resolve("odd");
        FileCredentialStore store = new FileCredentialStore(folder, SecretFiles::writeOwnerOnly);
        List<String[]> names = List.of(
                new String[] {"../../etc", "passwd"},
                new String[] {"/", "/"},
                new String[] {"a/b\\c", "C:\\x"},
                new String[] {"with|pipe", "and\nnewline"},
                new String[] {"nul\0byte", "tab\t"},
                new String[] {"ünïcödé 🔑", "名前"},
                new String[] {"ab", "c"},
                new String[] {"a", "bc"},
                new String[] {"a\nb", "c"},
                new String[] {"a", "b\nc"},
                new String[] {"x".repeat(5000), "y".repeat(5000)},
                new String[] {".", ".."});
        Set<Path> files = new HashSet<>();
        int i = 0;
        for (String[] n : names) {
            String secret = "secret " + i++ + " ✓";
            store.write(n[0], n[1], secret);
            Path f = store.fileOf(n[0], n[1]);
            assertEquals(folder.toAbsolutePath().normalize(), f.getParent());
            assertTrue(f.getFileName().toString().matches("[0-9a-f]{64}"), f.toString());
            files.add(f);
        }
        assertEquals(names.size(), files.size(), "every pair has a file of its own");
        assertEquals(names.size(), store.count());
        i = 0;
        for (String[] n : names) {
            assertEquals(Optional.of("secret " + i++ + " ✓"), store.read(n[0], n[1]));
        }
        try (Stream<Path> all = Files.walk(tmp)) {
            assertEquals(names.size(), all.filter(Files::isRegularFile).count(), "nothing was written outside the folder");
        }
    }

    @Test
    void keepsEmptyAndMultiLineSecretsExactly() throws Exception {
        FileCredentialStore store = new FileCredentialStore(tmp, SecretFiles::writeOwnerOnly);
        store.write("s", "empty", "");
        store.write("s", "lines", "line 1\nline 2\n");
        assertEquals(Optional.of(""), store.read("s", "empty"));
        assertEquals(Optional.of("line 1\nline 2\n"), store.read("s", "lines"));
    }

    @Test
    void refusesEntriesWithoutServiceOrAccount() {
        FileCredentialStore store = new FileCredentialStore(tmp, SecretFiles::writeOwnerOnly);
        assertThrows(IllegalArgumentException.class, () -> store.write("", "a", "x"));
        assertThrows(IllegalArgumentException.class, () -> store.write("s", "", "x"));
        assertThrows(IllegalArgumentException.class, () -> store.read(null, "a"));
        assertThrows(IllegalArgumentException.class, () -> store.write("s", "a", null));
    }

    @Test
    void removesTemporaryFilesACrashLeftBehind() throws Exception {
        FileCredentialStore store = new FileCredentialStore(tmp, SecretFiles::writeOwnerOnly);
        store.write("s", "a", "kept");
        Files.writeString(tmp.resolve(".tmp-123"), "half a secret");
        store.removeLeftovers();
        assertEquals(List.of(store.fileOf("s", "a").getFileName().toString()), names(tmp));
        assertNotEquals(Optional.empty(), store.read("s", "a"));
    }

    private static List<String> names(Path folder) throws Exception {
        try (Stream<Path> s = Files.list(folder)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }
}
