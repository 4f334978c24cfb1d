package io.cloudbridge.kernel.internal.environment;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DaemonEnvironmentTest {
    @TempDir
    Path tmp;

    @Test
    void readsTheLaunchersPropertiesWithOneFallbackEach() {
        DaemonEnvironment full = new DaemonEnvironment(Map.of("cloudbridge.home", "/opt/cb", "cloudbridge.state", "/var/lib/cb",
                "cloudbridge.role", "relay")::get);
        assertEquals(Path.of("/opt/cb"), full.home());
        assertEquals(Path.of("/var/lib/cb"), full.stateFolder());
        assertEquals("relay", full.role());
        DaemonEnvironment homeOnly = new DaemonEnvironment(Map.of("cloudbridge.home", "/opt/cb")::get);
        assertEquals(Path.of("/opt/cb/state"), homeOnly.stateFolder());
        assertEquals("embedded", homeOnly.role());
        DaemonEnvironment none = new DaemonEnvironment(Map.<String, String>of()::get);
        assertEquals(Path.of("").toAbsolutePath().resolve("state"), none.stateFolder());
        // Configured paths: relative ones from the home, as the operator reads the file.
        assertEquals(Path.of("/opt/cb/secrets/db"), homeOnly.configuredPath("secrets/db"));
        assertEquals(Path.of("/srv/db"), homeOnly.configuredPath("/srv/db"));
    }

    @Test
    void aComponentsStateFolderIsMadeOwnerOnlyAndIsOnePlainName() throws Exception {
        DaemonEnvironment env = new DaemonEnvironment(Map.of("cloudbridge.home", tmp.toString())::get);
        Path control = env.stateFolder("control");
        assertEquals(tmp.resolve("state").resolve("control"), control);
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(control)));
        for (String bad : new String[] {"", "..", "../etc", "a/b", ".hidden", "/"}) {
            assertThrows(IllegalArgumentException.class, () -> env.stateFolder(bad), bad);
        }
    }

    @Test
    void secretsAreOwnerOnlyFromTheStartAndReplacedWhole() throws Exception {
        DaemonEnvironment env = new DaemonEnvironment(Map.of("cloudbridge.home", tmp.toString())::get);
        Path key = tmp.resolve("keys").resolve("node.key");
        env.writeSecret(key, "first\n");
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(key)));
        env.writeSecret(key, "second\n");
        assertEquals("second\n", Files.readString(key));
        try (var left = Files.list(key.getParent())) {
            assertEquals(1, left.count(), "no temporary file left behind");
        }
    }
}
