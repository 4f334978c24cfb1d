package io.cloudbridge.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.testing.FleetKeyFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.SQLException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FleetKeySealerTest {
    @TempDir
    Path dir;

    private Path keyFile(String name, int bytes) throws IOException {
        return FleetKeyFiles.write(dir.resolve(name), bytes);
    }

    @Test
    void aSealedSecretOpensUnderItsContextAloneAndWithItsKeyAlone() throws Exception {
        FleetKeySealer fleet = FleetKeySealer.load(keyFile("fleet.key", 32));
        String secret = "{\"kty\":\"EC\",\"d\":\"private\"}";
        String stored = fleet.seal(secret, "relay_signing_key:k1");
        assertTrue(stored.startsWith("sealed:v1:") && !stored.contains("private"), stored);
        assertNotEquals(stored, fleet.seal(secret, "relay_signing_key:k1"), "a fresh nonce each time");
        assertEquals(secret, fleet.open(stored, "relay_signing_key:k1"));
        assertTrue(fleet.isSealed(stored));

        assertThrows(SQLException.class, () -> fleet.open(stored, "relay_signing_key:k2"), "moved to another row");
        FleetKeySealer another = FleetKeySealer.load(keyFile("other.key", 32));
        SQLException wrongKey = assertThrows(SQLException.class, () -> another.open(stored, "relay_signing_key:k1"));
        assertTrue(wrongKey.getMessage().contains("fleet key"), wrongKey.getMessage());
        char[] flipped = stored.toCharArray();
        flipped[20] = flipped[20] == 'A' ? 'B' : 'A';
        assertThrows(SQLException.class, () -> fleet.open(new String(flipped), "relay_signing_key:k1"), "changed");
        assertThrows(SQLException.class, () -> fleet.open("sealed:v1:AAAA", "relay_signing_key:k1"), "truncated");
        assertThrows(SQLException.class, () -> fleet.open("sealed:v1:not base64!", "relay_signing_key:k1"), "garbage");
        // Stored before a fleet key was configured: read as it is (and sealed by its owner when next written).
        assertEquals(secret, fleet.open(secret, "relay_signing_key:k1"));
    }

    @Test
    void withoutAFleetKeyValuesStayAsGivenAndASealedOneIsRefused() throws Exception {
        assertEquals("plain", FleetKeySealer.NONE.seal("plain", "c"));
        assertFalse(FleetKeySealer.NONE.sealing());
        String sealed = FleetKeySealer.load(keyFile("fleet.key", 32)).seal("secret", "c");
        SQLException refused = assertThrows(SQLException.class, () -> FleetKeySealer.NONE.open(sealed, "c"));
        assertTrue(refused.getMessage().contains("database.fleetKeyFile"), refused.getMessage());
    }

    @Test
    void aKeyFileThatIsMissingShortGarbledOrReadableByOthersIsRefused() throws Exception {
        assertTrue(assertThrows(IOException.class, () -> FleetKeySealer.load(dir.resolve("missing")))
                .getMessage().contains("head -c 32 /dev/urandom"));
        assertTrue(assertThrows(IOException.class, () -> FleetKeySealer.load(keyFile("short.key", 16)))
                .getMessage().contains("16 bytes, not 32"));
        Path garbled = dir.resolve("garbled.key");
        Files.writeString(garbled, "this is not base64 ***\n");
        Files.setPosixFilePermissions(garbled, PosixFilePermissions.fromString("rw-------"));
        assertTrue(assertThrows(IOException.class, () -> FleetKeySealer.load(garbled)).getMessage().contains("not Base64"));
        Path open = keyFile("open.key", 32);
        Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rw-r--r--"));
        assertTrue(assertThrows(IOException.class, () -> FleetKeySealer.load(open)).getMessage().contains("chmod 600"));
    }
}
