package io.cloudbridge.credentials.internal;

import io.cloudbridge.boot.config.SecretFiles;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.github.javakeyring.PasswordAccessException;
import java.io.IOException;
import java.lang.reflect.Proxy;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import io.cloudbridge.kernel.internal.environment.DaemonEnvironment;

/**
 * How the store is chosen when there is no usable keyring. dbus-java takes the session bus address
 * from the system property before the environment, so these tests point it at a bus that is not
 * there, or at one that never answers, whatever session the machine running them has.
 */
class StoreSelectionTest {
    private static final String BUS = "DBUS_SESSION_BUS_ADDRESS";
    @TempDir
    Path tmp;

    @AfterEach
    void restoreBus() {
        System.clearProperty(BUS);
    }

    @Test
    void fileModeUsesTheFolder() throws Exception {
        CredentialStoreComponent.Selection s = CredentialStoreComponent.select("file", tmp.resolve("c"), SecretFiles::writeOwnerOnly,
                Duration.ofSeconds(1), Duration.ofSeconds(1));
        assertEquals("file", s.store().backend());
        assertFalse(s.keyring());
        assertTrue(s.why().contains(tmp.resolve("c").toString()), s.why());
    }

    @Test
    void autoFallsBackToFilesWhenThereIsNoBus() throws Exception {
        System.setProperty(BUS, "unix:path=" + tmp.resolve("no-such-bus"));
        CredentialStoreComponent.Selection s = CredentialStoreComponent.select("auto", tmp.resolve("c"), SecretFiles::writeOwnerOnly,
                Duration.ofSeconds(5), Duration.ofSeconds(5));
        assertEquals("file", s.store().backend());
        assertTrue(s.why().startsWith("the OS keyring (secret-service) is not usable"), s.why());
        s.store().write("svc", "acct", "works");
        assertEquals(Optional.of("works"), s.store().read("svc", "acct"));
    }

    @Test
    void autoDoesNotHangOnABusThatNeverAnswers() throws Exception {
        Path socket = tmp.resolve("silent-bus");
        List<SocketChannel> held = new ArrayList<>();
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(socket));
            Thread acceptor = new Thread(() -> {
                try {
                    while (true) {
                        SocketChannel c = server.accept(); // accepted, and never answered
                        synchronized (held) {
                            held.add(c);
                        }
                    }
                } catch (IOException e) {
                    // the server closed: the test is over
                }
            }, "silent-bus");
            acceptor.setDaemon(true);
            acceptor.start();
            System.setProperty(BUS, "unix:path=" + socket);

            long start = System.nanoTime();
            CredentialStoreComponent.Selection s = CredentialStoreComponent.select("auto", tmp.resolve("c"), SecretFiles::writeOwnerOnly,
                    Duration.ofSeconds(1), Duration.ofSeconds(1));
            Duration took = Duration.ofNanos(System.nanoTime() - start);
            assertEquals("file", s.store().backend());
            if (hasMachineId()) {
                assertTrue(s.why().contains("did not answer within 1 s"), s.why());
            } else {
                // A minimal container: dbus-java gives up before it connects, and the reason says how to fix it.
                assertTrue(s.why().contains("D-Bus needs a machine id"), s.why());
            }
            assertTrue(took.compareTo(Duration.ofSeconds(5)) < 0, "the probe took " + took);
        } finally {
            synchronized (held) {
                for (SocketChannel c : held) {
                    c.close();
                }
            }
        }
    }

    /** Where dbus-java looks for the machine id (DBUS_MACHINE_ID_LOCATION first), as of 4.2. */
    static boolean hasMachineId() {
        String custom = System.getenv("DBUS_MACHINE_ID_LOCATION");
        return Stream.of(custom, "/var/lib/dbus/machine-id", "/usr/local/var/lib/dbus/machine-id", "/etc/machine-id")
                .filter(f -> f != null && Files.exists(Path.of(f))).findFirst()
                .map(f -> Path.of(f).toFile().length() > 0).orElse(false);
    }

    /**
     * A machine without a D-Bus machine id (a minimal container) used to get dbus-java's own
     * "Cannot Resolve Session Bus Address: MachineId file can not be found" as the reason files were
     * chosen, which sends an operator looking for a wrong address; the reason now says what is
     * missing and how to make it.
     */
    @Test
    void aMissingMachineIdIsNamedWithItsFix() {
        for (String failure : List.of("Cannot Resolve Session Bus Address: MachineId file can not be found",
                "Cannot Resolve Session Bus Address: MachineId file is empty.")) {
            String hint = CredentialStoreComponent.hint("secret-service", failure);
            assertTrue(hint.contains("D-Bus needs a machine id") && hint.contains("dbus-uuidgen --ensure"), hint);
        }
        assertEquals("", CredentialStoreComponent.hint("keychain", "MachineId file can not be found"));
    }

    @Test
    void keyringModeFailsWithoutAKeyring() {
        System.setProperty(BUS, "unix:path=" + tmp.resolve("no-such-bus"));
        IOException e = assertThrows(IOException.class, () -> CredentialStoreComponent.select("keyring",
                tmp.resolve("c"), SecretFiles::writeOwnerOnly, Duration.ofSeconds(5), Duration.ofSeconds(5)));
        assertTrue(e.getMessage().startsWith("credentials.store is 'keyring' but the OS keyring is not usable"), e.getMessage());
    }

    @Test
    void unknownModesAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> CredentialStoreComponent.select("vault", tmp, SecretFiles::writeOwnerOnly,
                Duration.ofSeconds(1), Duration.ofSeconds(1)));
    }

    @Test
    void theFolderDefaultsToTheStateFolder() {
        DaemonEnvironment ctx = new DaemonEnvironment(Map.of("cloudbridge.home", "/opt/cb", "cloudbridge.state", "/var/lib/cb")::get);
        assertEquals(Path.of("/var/lib/cb/credentials"), CredentialStoreComponent.folderOf(ctx, config("auto", "")));
        DaemonEnvironment homeOnly = new DaemonEnvironment(Map.of("cloudbridge.home", "/opt/cb")::get);
        assertEquals(Path.of("/opt/cb/state/credentials"), CredentialStoreComponent.folderOf(homeOnly, config("auto", "")));
        assertEquals(Path.of("/opt/cb/secrets"), CredentialStoreComponent.folderOf(homeOnly, config("auto", "secrets")));
        assertEquals(Path.of("/srv/secrets"), CredentialStoreComponent.folderOf(ctx, config("auto", "/srv/secrets")));
    }

    @Test
    void tellsMissingEntriesFromFailures() {
        assertTrue(KeyringCredentialStore.isNotFound(new PasswordAccessException("No stored credentials match s account: a")));
        assertTrue(KeyringCredentialStore.isNotFound(new PasswordAccessException("Error code 1168")));
        assertFalse(KeyringCredentialStore.isNotFound(new PasswordAccessException("Error code 5")));
        assertFalse(KeyringCredentialStore.isNotFound(new PasswordAccessException("Failed to get credential. -25293")));
    }


    static CredentialsConfig config(String store, String fileFolder) {
        return (CredentialsConfig) Proxy.newProxyInstance(StoreSelectionTest.class.getClassLoader(),
                new Class<?>[] {CredentialsConfig.class}, (proxy, method, args) -> switch (method.getName()) {
                    case "store" -> store;
                    case "fileFolder" -> fileFolder;
                    default -> throw new UnsupportedOperationException(method.getName());
                });
    }
}
