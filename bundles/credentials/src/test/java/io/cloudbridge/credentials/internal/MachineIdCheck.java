package io.cloudbridge.credentials.internal;

import io.cloudbridge.boot.config.SecretFiles;

import java.nio.file.Path;
import java.time.Duration;

/**
 * Run by {@link MissingMachineIdTest} in a mount namespace where the D-Bus machine id files are
 * empty, as on a minimal container: chooses a store in mode {@code auto} and prints
 * {@code key=value} lines for the test to check.
 *
 * <p>Arguments: the file store's folder, and a bus address where nothing listens.
 */
public final class MachineIdCheck {
    private MachineIdCheck() {
    }

    public static void main(String[] args) throws Exception {
        System.setProperty("DBUS_SESSION_BUS_ADDRESS", args[1]);
        long start = System.nanoTime();
        CredentialStoreComponent.Selection s = CredentialStoreComponent.select("auto", Path.of(args[0]), SecretFiles::writeOwnerOnly,
                Duration.ofSeconds(1), Duration.ofSeconds(1));
        System.out.println("millis=" + Duration.ofNanos(System.nanoTime() - start).toMillis());
        System.out.println("backend=" + s.store().backend());
        System.out.println("why=" + s.why());
        s.close();
        System.exit(0); // whatever thread the D-Bus library left behind
    }
}
