package io.cloudbridge.control.node.internal;

import io.cloudbridge.api.auth.CredentialStore;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * Where this node keeps its refresh token, the credential that signs it in again without a
 * pre-auth key: the OS keyring (or its owner-only file fallback) when the credentials bundle
 * runs, else an owner-only file of this bundle's own. The token is kept in one place only, so a
 * token forgotten is forgotten everywhere.
 */
final class RefreshTokenStore {
    static final String CREDENTIAL_SERVICE = "cloudbridge";

    private final ControlSession session;
    /** The keyring the component is bound to now, if any: it can come and go. */
    private final Supplier<CredentialStore> credentials;

    RefreshTokenStore(ControlSession session, Supplier<CredentialStore> credentials) {
        this.session = session;
        this.credentials = credentials;
    }

    private String refreshAccount() {
        return "refresh-token/" + session.config.relay();
    }

    String read() throws IOException {
        CredentialStore store = credentials.get();
        if (store != null) {
            Optional<String> kept = store.read(CREDENTIAL_SERVICE, refreshAccount());
            if (kept.isPresent()) {
                return kept.get();
            }
        }
        return readSecret(session.stateFolder.resolve("refresh-token"));
    }

    /** Where the refresh token is kept, for messages. */
    String where() {
        CredentialStore store = credentials.get();
        return store != null ? store.backend() : session.stateFolder.resolve("refresh-token").toString();
    }

    void write(String token) throws IOException {
        CredentialStore store = credentials.get();
        if (store != null) {
            store.write(CREDENTIAL_SERVICE, refreshAccount(), token);
            Files.deleteIfExists(session.stateFolder.resolve("refresh-token")); // one place only
        } else {
            session.environment.writeSecret(session.stateFolder.resolve("refresh-token"), token);
        }
    }

    void forget() throws IOException {
        CredentialStore store = credentials.get();
        if (store != null) {
            store.delete(CREDENTIAL_SERVICE, refreshAccount());
        }
        Files.deleteIfExists(session.stateFolder.resolve("refresh-token"));
    }

    /** A secret kept in a file of its own (the refresh token, a pre-auth key); null when there is none. */
    static String readSecret(Path file) throws IOException {
        if (!Files.exists(file)) {
            return null;
        }
        String s = Files.readString(file, StandardCharsets.UTF_8).trim();
        return s.isEmpty() ? null : s;
    }
}
