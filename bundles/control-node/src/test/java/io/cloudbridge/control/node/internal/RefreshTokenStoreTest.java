package io.cloudbridge.control.node.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.cloudbridge.api.auth.CredentialStore;
import io.cloudbridge.control.node.internal.ControlTestKit.QueueingScheduler;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The refresh token in one place: the keyring when there is one, else an owner-only file. */
class RefreshTokenStoreTest {
    @TempDir
    Path state;
    private final QueueingScheduler scheduler = new QueueingScheduler();
    private final Map<String, String> keyring = new HashMap<>();
    private CredentialStore bound;
    private RefreshTokenStore store;

    @BeforeEach
    void start() {
        ControlSession session = ControlTestKit.session(state, ControlTestKit.config("relay.example:7443", "node-a", "", 30), scheduler);
        store = new RefreshTokenStore(session, () -> bound);
    }

    @AfterEach
    void stop() {
        scheduler.shutdownNow();
    }

    @Test
    void withoutAKeyringTheTokenIsAnOwnerOnlyFile() throws Exception {
        store.write("refresh-1");
        Path file = state.resolve("refresh-token");
        assertEquals("refresh-1", Files.readString(file));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
        assertEquals("refresh-1", store.read());
        store.forget();
        assertFalse(Files.exists(file));
        assertNull(store.read(), "forgotten: the next sign-in needs another credential");
    }

    @Test
    void withAKeyringTheTokenMovesThereUnderTheRelaysNameAndTheFileGoes() throws Exception {
        store.write("from-before-the-keyring");
        bound = keyring();
        assertEquals("from-before-the-keyring", store.read(), "an empty keyring falls back to the file");

        store.write("refresh-2");
        assertEquals(Map.of("cloudbridge refresh-token/relay.example:7443", "refresh-2"), keyring);
        assertFalse(Files.exists(state.resolve("refresh-token")), "one place only");
        assertEquals("refresh-2", store.read());

        store.forget();
        assertEquals(Map.of(), keyring);
        assertNull(store.read());
    }

    @Test
    void aSecretFileIsTrimmedAndBlankMeansNone() throws Exception {
        Path key = state.resolve("pre-auth-key");
        assertNull(RefreshTokenStore.readSecret(key), "no file: no secret");
        Files.writeString(key, "  cbk_123 \n");
        assertEquals("cbk_123", RefreshTokenStore.readSecret(key));
        Files.writeString(key, " \n");
        assertNull(RefreshTokenStore.readSecret(key));
    }

    private CredentialStore keyring() {
        return new CredentialStore() {
            @Override
            public String backend() {
                return "test keyring";
            }

            @Override
            public Optional<String> read(String service, String account) {
                return Optional.ofNullable(keyring.get(service + " " + account));
            }

            @Override
            public void write(String service, String account, String secret) {
                keyring.put(service + " " + account, secret);
            }

            @Override
            public boolean delete(String service, String account) {
                return keyring.remove(service + " " + account) != null;
            }
        };
    }
}
