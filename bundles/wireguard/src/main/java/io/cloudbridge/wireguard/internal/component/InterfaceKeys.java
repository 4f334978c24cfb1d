package io.cloudbridge.wireguard.internal.component;

import io.cloudbridge.api.runtime.RuntimeEnvironment;
import io.cloudbridge.wireguard.internal.noise.NoiseCrypto;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Where the interface's private key is kept: its file, or the OS keyring. */
final class InterfaceKeys {
    private static final Logger LOG = LoggerFactory.getLogger(InterfaceKeys.class);

    private InterfaceKeys() {
    }

    /**
     * The interface's private key: from its file when there is one (an existing installation keeps
     * its key where it is); else from the OS keyring when the credentials bundle offers one, made
     * there on first start; else from the file, made on first start.
     *
     * @param store the OS keyring, or {@code null} when the credentials bundle does not run
     */
    static byte[] privateKey(Path file, String interfaceName, io.cloudbridge.api.auth.CredentialStore store,
            RuntimeEnvironment environment) throws IOException {
        if (Files.exists(file) || store == null || "file".equals(store.backend())) {
            return loadOrCreateKey(file, environment);
        }
        String account = "wireguard-private-key/" + interfaceName;
        java.util.Optional<String> kept = store.read("cloudbridge", account);
        if (kept.isPresent()) {
            byte[] key = Base64.getDecoder().decode(kept.get().trim());
            if (key.length != 32) {
                throw new IOException("the " + store.backend() + " entry " + account + " does not hold a 32-byte key");
            }
            return key;
        }
        byte[] key = NoiseCrypto.generateKeyPair()[0];
        store.write("cloudbridge", account, Base64.getEncoder().encodeToString(key));
        LOG.info("a new private key for {} is kept in {}", interfaceName, store.backend());
        return key;
    }

    /**
     * Where the key is kept unless configured: in the daemon's state folder. It used to be
     * {@code state/wireguard.key} under the installation whatever the state folder was, so that
     * every daemon of one installation with a state folder of its own shared one key. A key still
     * there is moved, once, into the state folder of the first daemon that starts without one: an
     * upgraded node keeps its identity, and no later daemon takes the same key.
     */
    static Path defaultKeyFile(RuntimeEnvironment environment) {
        Path inState = environment.stateFolder().resolve("wireguard.key");
        Path earlier = environment.home().resolve("state").resolve("wireguard.key");
        if (!inState.equals(earlier) && !Files.exists(inState) && Files.exists(earlier)) {
            try {
                Files.createDirectories(inState.getParent());
                Files.move(earlier, inState, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
                LOG.info("the WireGuard key moved from {} into the state folder: {}", earlier, inState);
            } catch (IOException e) {
                // Another daemon took it first, or the installation is read-only: this one gets a key of its own.
                LOG.info("the WireGuard key at {} stays there ({}); {} is used", earlier, e.toString(), inState);
            }
        }
        return inState;
    }

    /** Reads the private key, or creates one readable by its owner only. */
    static byte[] loadOrCreateKey(Path file, RuntimeEnvironment environment) throws IOException {
        if (Files.exists(file)) {
            byte[] key = Base64.getDecoder().decode(Files.readString(file, StandardCharsets.US_ASCII).trim());
            if (key.length != 32) {
                throw new IOException(file + " does not hold a 32-byte Base64 key");
            }
            return key;
        }
        byte[] key = NoiseCrypto.generateKeyPair()[0];
        environment.writeSecret(file, Base64.getEncoder().encodeToString(key) + "\n");
        return key;
    }
}
