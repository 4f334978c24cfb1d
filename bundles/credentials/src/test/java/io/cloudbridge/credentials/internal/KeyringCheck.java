package io.cloudbridge.credentials.internal;

import io.cloudbridge.boot.config.SecretFiles;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.freedesktop.dbus.connections.impl.DBusConnection;
import org.freedesktop.dbus.connections.impl.DBusConnectionBuilder;
import org.freedesktop.dbus.interfaces.DBus;

/**
 * Run by {@link SecretServiceKeyringTest} inside a D-Bus session of its own with an unlocked
 * gnome-keyring-daemon: the real component, activated in mode {@code auto}, must choose the Secret
 * Service, and secret-tool (libsecret, not our library) must find what it stored. Prints
 * {@code key=value} lines for the test to check; the secrets are throwaway random values.
 *
 * <p>Arguments: the file store's folder.
 */
public final class KeyringCheck {
    static final String SERVICE = "io.cloudbridge.test/ü|x";
    static final String ACCOUNT = "node 1";
    static final String LEGACY_SERVICE = "io.cloudbridge.test.legacy";
    static final String LEGACY_ACCOUNT = "refresh-token";

    private KeyringCheck() {
    }

    public static void main(String[] args) {
        try {
            run(Path.of(args[0]));
        } catch (Throwable t) {
            t.printStackTrace(System.out);
            print("error", t.toString());
            System.exit(1);
        }
        System.exit(0); // whatever thread the D-Bus library left behind
    }

    private static void run(Path folder) throws Exception {
        awaitSecretService(Duration.ofSeconds(20));

        // An entry from a start without a keyring: read once through the keyring store, it moves in.
        String legacy = random();
        new FileCredentialStore(folder, SecretFiles::writeOwnerOnly).write(LEGACY_SERVICE, LEGACY_ACCOUNT, legacy);

        CredentialStoreComponent component = new CredentialStoreComponent();
        component.start(new io.cloudbridge.kernel.internal.environment.DaemonEnvironment(
                Map.of("cloudbridge.state", folder.resolveSibling("state").toString())::get),
                StoreSelectionTest.config("auto", folder.toString()));
        try {
            print("backend", component.backend());
            print("why", component.selection().why());

            String first = random();
            component.write(SERVICE, ACCOUNT, first);
            String second = random();
            component.write(SERVICE, ACCOUNT, second); // an overwrite, not a second entry
            print("read-back", component.read(SERVICE, ACCOUNT).equals(Optional.of(second)) ? "ok" : "wrong");
            print("lookup", secretTool("lookup", SERVICE, ACCOUNT).strip().equals(second) ? "ok" : "wrong");
            List<String> found = secretTool("search", "--all", SERVICE, ACCOUNT).lines().map(String::strip).toList();
            print("search-items", Long.toString(found.stream().filter(l -> l.startsWith("secret = ")).count()));
            print("search-secret", found.contains("secret = " + second) ? "ok" : "wrong");
            print("search-attributes", found.contains("attribute.service = " + SERVICE)
                    && found.contains("attribute.account = " + ACCOUNT) ? "ok" : "wrong");
            print("entry-in-folder", Boolean.toString(Files.exists(component.selection().files().fileOf(SERVICE, ACCOUNT))));
            print("files-after-write", Integer.toString(component.selection().files().count())); // the legacy entry only

            print("legacy-read", component.read(LEGACY_SERVICE, LEGACY_ACCOUNT).equals(Optional.of(legacy)) ? "ok" : "wrong");
            print("legacy-lookup", secretTool("lookup", LEGACY_SERVICE, LEGACY_ACCOUNT).strip().equals(legacy) ? "ok" : "wrong");
            print("files-after-move", Integer.toString(component.selection().files().count()));

            print("unknown", component.read(SERVICE, "nobody").isEmpty() ? "empty" : "present");
            print("delete", Boolean.toString(component.delete(SERVICE, ACCOUNT)));
            print("delete-again", Boolean.toString(component.delete(SERVICE, ACCOUNT)));
            component.delete(LEGACY_SERVICE, LEGACY_ACCOUNT);
            print("search-after-delete", Long.toString(secretTool("search", "--all", SERVICE, ACCOUNT).lines()
                    .filter(l -> l.strip().startsWith("secret = ")).count()));
            print("probe-left", Long.toString(secretTool("search", "--all", KeyringCredentialStore.PROBE_SERVICE,
                    KeyringCredentialStore.PROBE_ACCOUNT).lines().filter(l -> l.strip().startsWith("secret = ")).count()));
            print("files-at-end", Integer.toString(component.selection().files().count()));
        } finally {
            component.deactivate();
        }
        print("done", "true");
    }

    /**
     * gnome-keyring-daemon --unlock returns before the daemon owns its bus name; a call made in
     * between would have D-Bus start a second, locked daemon. So: wait for the name.
     */
    private static void awaitSecretService(Duration limit) throws Exception {
        try (DBusConnection c = DBusConnectionBuilder.forSessionBus().withShared(false).build()) {
            DBus bus = c.getRemoteObject("org.freedesktop.DBus", "/org/freedesktop/DBus", DBus.class);
            long deadline = System.nanoTime() + limit.toNanos();
            while (!bus.NameHasOwner("org.freedesktop.secrets")) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("org.freedesktop.secrets has no owner after " + limit.toSeconds()
                            + " s: gnome-keyring-daemon did not start");
                }
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
            }
        }
        print("secret-service", "on the bus");
    }

    /**
     * secret-tool with the attributes java-keyring sets: service and account.
     *
     * <p>The arguments go to secret-tool through xargs from a file written in UTF-8, not as the
     * process's arguments: Java encodes those in the locale's charset, which in the C locale of a
     * login without LANG is ASCII, so a service name such as {@link #SERVICE} reached secret-tool
     * as {@code io.cloudbridge.test/??|x} and it looked for an entry no one wrote (that was the
     * whole of "lookup=wrong" for an ordinary user: the entry was in the keyring all along, with its
     * attributes in UTF-8 as D-Bus carries them). secret-tool itself runs in C.UTF-8, so that what
     * it prints is UTF-8 too (in C, it refuses UTF-8 arguments: "Invalid byte sequence").
     */
    private static String secretTool(String command, String... rest) throws IOException, InterruptedException {
        List<String> args = new ArrayList<>(List.of(command));
        int i = 0;
        if (rest[0].equals("--all")) {
            args.add("--all");
            i = 1;
        }
        args.addAll(List.of("service", rest[i], "account", rest[i + 1]));
        Path argFile = Files.createTempFile("secret-tool", ".args");
        try {
            Files.write(argFile, (String.join("\0", args) + "\0").getBytes(StandardCharsets.UTF_8));
            ProcessBuilder pb = new ProcessBuilder("xargs", "-0", "-a", argFile.toString(), "secret-tool").redirectErrorStream(true);
            pb.environment().keySet().removeIf(k -> k.equals("LANG") || k.equals("LANGUAGE") || k.startsWith("LC_"));
            pb.environment().put("LC_ALL", "C.UTF-8");
            Process p = pb.start();
            p.getOutputStream().close();
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException("secret-tool " + args + " did not finish");
            }
            return new String(out, StandardCharsets.UTF_8);
        } finally {
            Files.deleteIfExists(argFile);
        }
    }

    private static String random() {
        byte[] b = new byte[24];
        new SecureRandom().nextBytes(b);
        return HexFormat.of().formatHex(b);
    }

    private static void print(String key, String value) {
        System.out.println(key + "=" + value);
        System.out.flush();
    }
}
