package io.cloudbridge.credentials.internal;

import com.github.javakeyring.BackendNotSupportedException;
import com.github.javakeyring.Keyring;
import com.github.javakeyring.KeyringStorageType;
import com.github.javakeyring.PasswordAccessException;
import io.cloudbridge.api.auth.CredentialStore;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.lang.reflect.InvocationTargetException;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Secrets in the OS keyring through java-keyring: the Secret Service over D-Bus on Linux (GNOME
 * Keyring, KeePassXC, KWallet 5.97+), the Keychain on macOS, the Credential Manager on Windows.
 * Entries carry the attributes {@code service} and {@code account} (Secret Service), are generic
 * passwords of that service and account (Keychain), or are targets named {@code service|account}
 * (Credential Manager).
 *
 * <p>Every call runs on one thread of its own, for three reasons: D-Bus can hang (a collection that
 * wants a prompt no one answers, a bus that does not reply), so a caller waits a bounded time and
 * gets an {@link IOException} instead; the library's Secret Service client is not safe for
 * concurrent use; and dbus-java finds its socket transport with {@link java.util.ServiceLoader}
 * through the thread's context class loader, which on this thread is this bundle's own.
 */
final class KeyringCredentialStore implements CredentialStore, AutoCloseable {
    static final String PROBE_SERVICE = "io.cloudbridge.credentials";
    static final String PROBE_ACCOUNT = "probe";

    private final String backend;
    private final Keyring keyring;
    private final ExecutorService thread;
    private final Duration timeout;

    private KeyringCredentialStore(String backend, Keyring keyring, ExecutorService thread, Duration timeout) {
        this.backend = backend;
        this.keyring = keyring;
        this.thread = thread;
        this.timeout = timeout;
    }

    /** The backend's name on this OS, or empty where java-keyring has none. */
    static Optional<String> backendForThisOs() {
        return typeForThisOs().map(KeyringCredentialStore::nameOf);
    }

    /**
     * Connects to the OS keyring and proves it usable by writing, reading back and deleting a probe
     * entry, all within {@code timeout}; a keyring that only answers (a locked collection, a
     * Secret Service that wants a prompt) is not usable.
     *
     * @param timeout     how long to wait for the connection and the probe
     * @param callTimeout how long to wait, later, for each call
     * @throws IOException why the keyring cannot be used
     */
    static KeyringCredentialStore open(Duration timeout, Duration callTimeout) throws IOException {
        KeyringStorageType type = typeForThisOs().orElseThrow(() -> new IOException(
                "java-keyring has no backend for " + System.getProperty("os.name")));
        ExecutorService thread = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "credentials-keyring");
            t.setDaemon(true);
            t.setContextClassLoader(KeyringCredentialStore.class.getClassLoader());
            return t;
        });
        AtomicBoolean abandoned = new AtomicBoolean();
        Future<Keyring> opened = thread.submit(() -> {
            Keyring k = Keyring.create(type);
            try {
                probe(k);
            } catch (Exception | LinkageError e) {
                closeQuietly(k);
                throw e;
            }
            if (abandoned.get()) { // the caller gave up waiting: nobody will close it
                closeQuietly(k);
            }
            return k;
        });
        try {
            Keyring keyring = opened.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            return new KeyringCredentialStore(nameOf(type), keyring, thread, callTimeout);
        } catch (TimeoutException e) {
            abandoned.set(true);
            if (opened.isDone()) { // finished between the timeout and the flag
                try {
                    closeQuietly(opened.get());
                } catch (ExecutionException | InterruptedException | CancellationException e2) {
                    // nothing was opened
                }
            }
            thread.shutdownNow();
            throw new IOException("the keyring did not answer within " + timeout.toSeconds() + " s");
        } catch (InterruptedException e) {
            abandoned.set(true);
            thread.shutdownNow();
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while opening the keyring");
        } catch (ExecutionException e) {
            thread.shutdownNow();
            if (type == KeyringStorageType.GNOME_KEYRING && e.getCause() instanceof NullPointerException) {
                // The Secret Service client logs a D-Bus error reply and returns nothing, and the
                // library trips over the nothing: typically no default collection, or a locked one
                // that would need a prompt.
                throw new IOException("the Secret Service refused the request (no default collection, or a locked one?)",
                        e.getCause());
            }
            throw new IOException(describe(e.getCause()), e.getCause());
        }
    }

    private static void probe(Keyring k) throws PasswordAccessException, IOException {
        byte[] random = new byte[16];
        new SecureRandom().nextBytes(random);
        String value = HexFormat.of().formatHex(random);
        k.setPassword(PROBE_SERVICE, PROBE_ACCOUNT, value);
        String back = k.getPassword(PROBE_SERVICE, PROBE_ACCOUNT);
        k.deletePassword(PROBE_SERVICE, PROBE_ACCOUNT);
        if (!value.equals(back)) {
            throw new IOException("the keyring did not give back what was written to it");
        }
    }

    @Override
    public String backend() {
        return backend;
    }

    @Override
    public Optional<String> read(String service, String account) throws IOException {
        FileCredentialStore.check(service, account);
        return call(() -> {
            try {
                return Optional.of(keyring.getPassword(service, account));
            } catch (PasswordAccessException e) {
                if (isNotFound(e)) {
                    return Optional.empty();
                }
                throw e;
            }
        });
    }

    @Override
    public void write(String service, String account, String secret) throws IOException {
        FileCredentialStore.check(service, account);
        if (secret == null) {
            throw new IllegalArgumentException("a secret may be empty, not null");
        }
        call(() -> {
            keyring.setPassword(service, account, secret);
            // The Secret Service client logs some D-Bus errors and carries on, so a write is only
            // taken as done once the keyring gives the secret back.
            if (!secret.equals(keyring.getPassword(service, account))) {
                throw new IOException("the keyring did not keep the entry");
            }
            return null;
        });
    }

    @Override
    public boolean delete(String service, String account) throws IOException {
        FileCredentialStore.check(service, account);
        return call(() -> {
            try {
                keyring.deletePassword(service, account);
                return true;
            } catch (PasswordAccessException e) {
                if (isNotFound(e)) {
                    return false;
                }
                throw e;
            }
        });
    }

    @Override
    public void close() {
        try {
            thread.submit(() -> {
                closeQuietly(keyring);
                return null;
            }).get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException | TimeoutException e) {
            // the connection goes with the thread
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            thread.shutdownNow();
        }
    }

    private <T> T call(Callable<T> task) throws IOException {
        Future<T> f;
        try {
            f = thread.submit(task);
        } catch (RejectedExecutionException e) {
            throw new IOException("the keyring store is closed");
        }
        try {
            return f.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            f.cancel(true);
            throw new IOException("the keyring did not answer within " + timeout.toSeconds() + " s");
        } catch (InterruptedException e) {
            f.cancel(true);
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting for the keyring");
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof IOException io) {
                throw io;
            }
            throw new IOException(describe(cause), cause);
        }
    }

    /**
     * Whether the library reports a missing entry rather than a failure. It says so only in the
     * message: "No stored credentials match ..." (Secret Service, Keychain; KWallet says "is not in
     * wallet"), and Windows' ERROR_NOT_FOUND (1168) as "Error code 1168".
     */
    static boolean isNotFound(PasswordAccessException e) {
        String m = e.getMessage() == null ? "" : e.getMessage();
        return m.contains("No stored credentials match") || m.equals("Error code 1168") || m.contains("not in wallet");
    }

    private static Optional<KeyringStorageType> typeForThisOs() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        if (os.startsWith("windows")) {
            return Optional.of(KeyringStorageType.WINDOWS_CREDENTIAL_STORE);
        }
        if (os.contains("mac")) {
            return Optional.of(KeyringStorageType.OSX_KEYCHAIN);
        }
        if (os.contains("linux") || os.contains("bsd")) {
            return Optional.of(KeyringStorageType.GNOME_KEYRING); // any Secret Service, not GNOME's alone
        }
        return Optional.empty();
    }

    private static String nameOf(KeyringStorageType type) {
        return switch (type) {
            case WINDOWS_CREDENTIAL_STORE -> "credential-manager";
            case OSX_KEYCHAIN, LEGACY_OSX_KEYCHAIN -> "keychain";
            default -> "secret-service";
        };
    }

    /** The cause chain's messages, which name services and accounts at most, never a secret. */
    static String describe(Throwable t) {
        StringBuilder sb = new StringBuilder();
        for (Throwable c = t; c != null && sb.length() < 400; c = c.getCause()) {
            if (c instanceof InvocationTargetException || c instanceof BackendNotSupportedException && c.getCause() != null) {
                continue; // wrappers: the cause says what went wrong
            }
            if (sb.length() > 0) {
                sb.append(": ");
            }
            if (c instanceof Error || c.getMessage() == null) {
                sb.append(c.getClass().getSimpleName()).append(c.getMessage() == null ? "" : " ");
            }
            sb.append(c.getMessage() == null ? "" : c.getMessage());
        }
        return sb.toString();
    }

    private static void closeQuietly(Keyring k) {
        try {
            k.close();
        } catch (Exception e) {
            // nothing held but the connection, and that is being dropped
        }
    }
}
