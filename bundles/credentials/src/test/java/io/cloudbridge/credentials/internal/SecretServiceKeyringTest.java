package io.cloudbridge.credentials.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.cloudbridge.testing.Requirements;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The keyring path for real: a D-Bus session of its own (dbus-run-session) with a fresh, unlocked
 * gnome-keyring-daemon, in which {@link KeyringCheck} activates the real component and checks with
 * secret-tool that the entries are in the Secret Service, not in the fallback folder.
 *
 * <p>Where a tool is missing it is skipped with a line naming the packages, and in CI (where
 * .ci/setup installs them) it fails instead: a skipped keyring test there would let the keyring
 * path break unnoticed. The session gets its own HOME
 * and XDG_RUNTIME_DIR, so the daemon creates a new login keyring there and no keyring of the
 * machine's user is read or changed. The keyring's password is a throwaway: gnome-keyring 42 will
 * not create an unencrypted (empty password) login keyring without asking a prompter, and there is
 * no display for one.
 */
class SecretServiceKeyringTest {
    /** Unlock (creating the login keyring), then become the JVM that runs the check; "$0" "$@" is that command. */
    private static final String SESSION_SCRIPT =
            "printf %s \"$CB_TEST_KEYRING_PASSWORD\" | gnome-keyring-daemon --unlock --components=secrets >/dev/null"
            + " && exec \"$0\" \"$@\"";

    @TempDir
    Path tmp;

    @Test
    void storesInTheSecretServiceNotInTheFolder() throws Exception {
        Requirements.requireTools("apt-get install --no-install-recommends dbus gnome-keyring libsecret-tools",
                "dbus-run-session", "gnome-keyring-daemon", "secret-tool");
        // Without one, dbus-java connects to no bus and the component rightly chooses files (StoreSelectionTest).
        Requirements.require(StoreSelectionTest.hasMachineId(), "a D-Bus machine id (/etc/machine-id, as minimal containers lack)",
                "as root: dbus-uuidgen --ensure");
        Path home = Files.createDirectory(tmp.resolve("home"));
        Path runtime = Files.createDirectory(tmp.resolve("run"), PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwx------")));
        Path folder = tmp.resolve("credentials");
        Path output = tmp.resolve("output.txt");

        List<String> cmd = new ArrayList<>(List.of("dbus-run-session", "--", "sh", "-c", SESSION_SCRIPT,
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", testClassPath(), KeyringCheck.class.getName(), folder.toString()));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(output.toFile());
        Map<String, String> env = pb.environment();
        env.remove("DBUS_SESSION_BUS_ADDRESS");
        env.remove("DISPLAY");
        env.remove("WAYLAND_DISPLAY");
        env.remove("XDG_DATA_HOME");
        env.remove("XDG_CONFIG_HOME");
        env.remove("XDG_CACHE_HOME");
        env.put("HOME", home.toString());
        env.put("XDG_RUNTIME_DIR", runtime.toString());
        env.put("CB_TEST_KEYRING_PASSWORD", "cloudbridge-test-only");
        // The plain C locale, as a login without LANG has (su -, ssh, a service): there the JVM
        // encodes a child's arguments as ASCII, and the check must still ask secret-tool for the
        // entry's real UTF-8 attributes. Pinned so that root's UTF-8 session cannot hide the case.
        env.keySet().removeIf(k -> k.equals("LANG") || k.equals("LANGUAGE") || k.startsWith("LC_"));
        env.put("LC_ALL", "C");
        Process p = pb.start();
        p.getOutputStream().close();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            fail("the keyring check did not finish within 120 s:\n" + read(output));
        }
        String out = read(output);
        Map<String, String> r = parse(out);
        assertEquals(0, p.exitValue(), "the keyring check failed:\n" + out);

        assertEquals("secret-service", r.get("backend"), out);
        assertTrue(r.getOrDefault("why", "").contains("passed a write/read/delete probe"), out);
        assertEquals("ok", r.get("read-back"), out);
        assertEquals("ok", r.get("lookup"), "secret-tool lookup must give what was written:\n" + out);
        assertEquals("1", r.get("search-items"), "one entry, overwritten in place:\n" + out);
        assertEquals("ok", r.get("search-secret"), out);
        assertEquals("ok", r.get("search-attributes"), out);
        assertEquals("false", r.get("entry-in-folder"), "nothing may go to the fallback folder:\n" + out);
        assertEquals("1", r.get("files-after-write"), "the folder holds the legacy entry alone:\n" + out);
        assertEquals("ok", r.get("legacy-read"), out);
        assertEquals("ok", r.get("legacy-lookup"), "an entry from the folder moves into the keyring:\n" + out);
        assertEquals("0", r.get("files-after-move"), out);
        assertEquals("empty", r.get("unknown"), out);
        assertEquals("true", r.get("delete"), out);
        assertEquals("false", r.get("delete-again"), out);
        assertEquals("0", r.get("search-after-delete"), out);
        assertEquals("0", r.get("probe-left"), "the probe entry is deleted:\n" + out);
        assertEquals("0", r.get("files-at-end"), out);
        assertEquals("true", r.get("done"), out);
        assertFalse(out.contains("cloudbridge-test-only"), "the keyring's password must not show up in any output");
    }

    /** Surefire's class path of this test run (java.class.path may be a manifest-only jar). */
    private static String testClassPath() {
        String cp = System.getProperty("surefire.test.class.path");
        return cp == null || cp.isBlank() ? System.getProperty("java.class.path") : cp;
    }

    private static String read(Path file) throws Exception {
        return Files.exists(file) ? Files.readString(file, StandardCharsets.UTF_8) : "";
    }

    private static Map<String, String> parse(String out) {
        Map<String, String> r = new LinkedHashMap<>();
        out.lines().forEach(l -> {
            int eq = l.indexOf('=');
            if (eq > 0 && l.substring(0, eq).matches("[a-z-]+")) {
                r.put(l.substring(0, eq), l.substring(eq + 1));
            }
        });
        return r;
    }
}
