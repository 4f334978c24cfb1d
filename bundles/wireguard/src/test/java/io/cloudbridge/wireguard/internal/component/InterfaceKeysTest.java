package io.cloudbridge.wireguard.internal.component;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.cloudbridge.kernel.internal.environment.DaemonEnvironment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Where an interface's key is kept when the configuration does not say, and that it is owner-only. */
class InterfaceKeysTest {
    @TempDir
    Path tmp;

    @Test
    void twoDaemonsOfOneInstallationKeepKeysOfTheirOwn() throws Exception {
        Path home = Files.createDirectories(tmp.resolve("opt"));
        DaemonEnvironment one = environment(home, tmp.resolve("var/one"));
        DaemonEnvironment two = environment(home, tmp.resolve("var/two"));
        Path keyOne = InterfaceKeys.defaultKeyFile(one);
        Path keyTwo = InterfaceKeys.defaultKeyFile(two);
        assertEquals(tmp.resolve("var/one/wireguard.key"), keyOne);
        byte[] a = InterfaceKeys.loadOrCreateKey(keyOne, one);
        byte[] b = InterfaceKeys.loadOrCreateKey(keyTwo, two);
        assertFalse(Arrays.equals(a, b), "each daemon its own key");
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(keyOne)));
        assertArrayEquals(a, InterfaceKeys.loadOrCreateKey(keyOne, one), "kept across starts");
        assertFalse(Files.exists(home.resolve("state")), "nothing written into the installation");
    }

    @Test
    void aKeyWhereEarlierVersionsKeptItMovesOnceIntoTheFirstStateFolder() throws Exception {
        Path home = Files.createDirectories(tmp.resolve("opt"));
        Path earlier = home.resolve("state/wireguard.key");
        DaemonEnvironment upgraded = environment(home, tmp.resolve("var/node"));
        byte[] key = InterfaceKeys.loadOrCreateKey(earlier, upgraded);
        Path moved = InterfaceKeys.defaultKeyFile(upgraded);
        assertEquals(upgraded.stateFolder().resolve("wireguard.key"), moved);
        assertArrayEquals(key, InterfaceKeys.loadOrCreateKey(moved, upgraded), "an upgraded node keeps its identity");
        assertFalse(Files.exists(earlier), "moved, not copied");
        // A second daemon of the installation, started after: a key of its own, not the same one.
        DaemonEnvironment second = environment(home, tmp.resolve("var/second"));
        byte[] other = InterfaceKeys.loadOrCreateKey(InterfaceKeys.defaultKeyFile(second), second);
        assertFalse(Arrays.equals(key, other), "no two daemons share a key");
    }

    private static DaemonEnvironment environment(Path home, Path state) {
        return new DaemonEnvironment(Map.of("cloudbridge.home", home.toString(), "cloudbridge.state", state.toString())::get);
    }
}
