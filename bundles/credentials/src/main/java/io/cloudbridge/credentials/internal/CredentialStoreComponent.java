package io.cloudbridge.credentials.internal;

import io.cloudbridge.api.auth.CredentialStore;
import io.cloudbridge.api.runtime.RuntimeEnvironment;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.metatype.annotations.Designate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node's one {@link CredentialStore}: the OS keyring when it works, owner-only files when it
 * does not. The choice is made once, at activation, by a probe, and logged with its reason; it is
 * not revisited while the component lives, so that one secret never ends up half in each store.
 * A new configuration re-activates the component and chooses again.
 *
 * <p>With the keyring chosen, the file store is still read on a miss: an entry written while no
 * keyring was reachable (an earlier start) moves into the keyring the first time it is asked for,
 * and its file is deleted.
 *
 * <p>Neither this class nor the stores log a secret; they log services, accounts and reasons.
 */
@Component(service = CredentialStore.class, configurationPid = "cloudbridge.credentials", immediate = true)
@Designate(ocd = CredentialsConfig.class)
public final class CredentialStoreComponent implements CredentialStore {
    /** Where the state folder is, and how secrets are written: the runtime's answer, not this bundle's. */
    @Reference
    private RuntimeEnvironment environment;

    private static final Logger LOG = LoggerFactory.getLogger(CredentialStoreComponent.class);
    /** Enough for a Secret Service started by D-Bus activation; short enough not to hold up start. */
    static final Duration PROBE_TIMEOUT = Duration.ofSeconds(5);
    /** D-Bus's own default reply timeout is 25 s; an answer later than this is no answer. */
    static final Duration CALL_TIMEOUT = Duration.ofSeconds(20);

    /**
     * What was chosen and why.
     *
     * @param store the store in use
     * @param files the file store: the one in use, or the one entries move out of into the keyring
     * @param why   one line for the log and cb:credentials
     */
    record Selection(CredentialStore store, FileCredentialStore files, String why) {
        boolean keyring() {
            return store != files;
        }

        void close() {
            if (store instanceof KeyringCredentialStore k) {
                k.close();
            }
        }
    }

    private volatile Selection selection;
    /** Entries stored or found through this component since it started: the keyring cannot be listed. */
    private final Set<String> known = ConcurrentHashMap.newKeySet();

    @Activate
    void activate(CredentialsConfig c) throws IOException {
        start(environment, c);
    }

    /** As DS activates it, with the environment given: for tests and tools that run without DS. */
    void start(RuntimeEnvironment environment, CredentialsConfig c) throws IOException {
        Selection s = select(c.store(), folderOf(environment, c), environment::writeSecret, PROBE_TIMEOUT, CALL_TIMEOUT);
        selection = s;
        LOG.info("credentials are kept in {}: {}", s.store().backend(), s.why());
    }

    @Deactivate
    void deactivate() {
        Selection s = selection;
        if (s != null) {
            s.close();
        }
    }

    /**
     * Chooses the store for a mode: {@code file}, {@code keyring}, or {@code auto} (the keyring when
     * its probe passes, else files).
     *
     * @throws IOException in mode {@code keyring} when the keyring is not usable
     */
    static Selection select(String mode, Path folder, FileCredentialStore.SecretWriter writer, Duration probeTimeout,
            Duration callTimeout) throws IOException {
        FileCredentialStore files = new FileCredentialStore(folder, writer);
        files.removeLeftovers();
        String m = mode == null ? "auto" : mode.trim();
        switch (m) {
            case "file":
                return new Selection(files, files, "configured (credentials.store: file), folder " + files.folder());
            case "keyring":
                try {
                    KeyringCredentialStore k = KeyringCredentialStore.open(probeTimeout, callTimeout);
                    return new Selection(k, files, "configured (credentials.store: keyring);"
                            + " the OS keyring passed a write/read/delete probe");
                } catch (IOException e) {
                    throw new IOException("credentials.store is 'keyring' but the OS keyring is not usable: " + e.getMessage(), e);
                }
            case "auto":
                Optional<String> kind = KeyringCredentialStore.backendForThisOs();
                if (kind.isEmpty()) {
                    return new Selection(files, files, "no OS keyring is supported on " + System.getProperty("os.name")
                            + "; folder " + files.folder());
                }
                try {
                    KeyringCredentialStore k = KeyringCredentialStore.open(probeTimeout, callTimeout);
                    return new Selection(k, files,
                            "the OS keyring (" + kind.get() + ") passed a write/read/delete probe");
                } catch (IOException e) {
                    return new Selection(files, files, "the OS keyring (" + kind.get() + ") is not usable (" + e.getMessage()
                            + hint(kind.get(), e.getMessage()) + "); folder " + files.folder());
                }
            default:
                throw new IllegalArgumentException("credentials.store must be auto, keyring or file, not '" + m + "'");
        }
    }

    /** What the operator can do about the keyring's failure, where we know; else nothing. */
    static String hint(String kind, String failure) {
        if (!kind.equals("secret-service")) {
            return "";
        }
        if (failure != null && failure.contains("MachineId")) {
            // dbus-java will not connect to any bus, even at a known address, without a D-Bus machine
            // id, and minimal containers have none: say how to make one rather than leave the
            // library's "Cannot Resolve Session Bus Address" to suggest the address is wrong.
            return "; D-Bus needs a machine id, and /etc/machine-id and /var/lib/dbus/machine-id are missing or empty:"
                    + " create one with systemd-machine-id-setup or dbus-uuidgen --ensure";
        }
        // dbus-java takes the address from the system property before the environment
        if (isBlank(System.getProperty("DBUS_SESSION_BUS_ADDRESS")) && isBlank(System.getenv("DBUS_SESSION_BUS_ADDRESS"))) {
            return "; no D-Bus session: DBUS_SESSION_BUS_ADDRESS is not set";
        }
        return "";
    }

    static Path folderOf(RuntimeEnvironment environment, CredentialsConfig c) {
        // Not created here: the file store makes its folder owner-only when it first writes.
        return isBlank(c.fileFolder()) ? environment.stateFolder().resolve("credentials") : environment.configuredPath(c.fileFolder());
    }

    private static boolean isBlank(String s) {
        return s == null || s.isBlank();
    }

    // ---- CredentialStore ----

    @Override
    public String backend() {
        return selection.store().backend();
    }

    @Override
    public Optional<String> read(String service, String account) throws IOException {
        Selection s = selection;
        Optional<String> secret = s.store().read(service, account);
        if (secret.isEmpty() && s.keyring()) {
            secret = s.files().read(service, account);
            if (secret.isPresent()) {
                s.store().write(service, account, secret.get());
                s.files().delete(service, account);
                LOG.info("moved the entry {} / {} from {} into the OS keyring", service, account, s.files().folder());
            }
        }
        if (secret.isPresent()) {
            known.add(key(service, account));
        }
        return secret;
    }

    @Override
    public void write(String service, String account, String secret) throws IOException {
        selection.store().write(service, account, secret);
        known.add(key(service, account));
    }

    @Override
    public boolean delete(String service, String account) throws IOException {
        Selection s = selection;
        boolean deleted = s.store().delete(service, account);
        if (s.keyring()) {
            deleted |= s.files().delete(service, account); // and any copy from before the keyring
        }
        known.remove(key(service, account));
        return deleted;
    }

    // ---- for cb:credentials ----

    Selection selection() {
        return selection;
    }

    int knownEntries() {
        return known.size();
    }

    private static String key(String service, String account) {
        return service + '\0' + account;
    }
}
