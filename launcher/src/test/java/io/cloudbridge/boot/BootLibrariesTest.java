package io.cloudbridge.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.List;
import org.junit.jupiter.api.Test;

class BootLibrariesTest {
    @Test
    void nettyAndJnaAreBootLibrariesAndNothingElseIs() {
        assertTrue(BootLibraries.isBootLibrary("io.netty.common"));
        assertTrue(BootLibraries.isBootLibrary("io.netty.codec-native-quic.linux-x86_64"));
        assertTrue(BootLibraries.isBootLibrary("com.sun.jna"));
        assertFalse(BootLibraries.isBootLibrary("com.sun.jna.platform"));
        assertFalse(BootLibraries.isBootLibrary("io.cloudbridge.transport.quic"));
        assertFalse(BootLibraries.isBootLibrary("org.apache.felix.framework"));
    }

    @Test
    void theSystemBundleExportsNettysPackagesAsItsManifestsWriteThem() {
        List<String> exports = BootLibraries.exports();
        String common = exports.stream().filter(e -> e.matches("(?s)(.*,)?io\\.netty\\.util;.*")).findFirst()
                .orElseThrow(() -> new AssertionError("netty-common's exports: " + exports));
        String version = io.netty.util.Version.identify().get("netty-common").artifactVersion().replace(".Final", "");
        assertTrue(common.contains("version=\"" + version + "\""), common);
        // Uses constraints hold quoted commas: the value is passed whole, never split on commas.
        assertTrue(common.matches("(?s).*uses:=\"[^\"]*,[^\"]*\".*"), common);
        assertTrue(RuntimeProperties.systemPackagesExtra().contains(common));
        assertTrue(exports.stream().anyMatch(e -> e.contains("io.netty.handler.codec.quic;")), "the QUIC codec's exports");
        assertEquals(0, exports.stream().filter(e -> e.contains("org.slf4j;")).count(), "only boot libraries: " + exports);
    }

    /**
     * What the launcher makes before any bundle runs names Netty's real classes and methods: after
     * a Netty upgrade renames one, this fails here instead of a bundle revision quietly staying in
     * memory.
     */
    @Test
    void everySharedStateEntryNamesAClassAndStaticMethodOfTheNettyShipped() throws Exception {
        ClassLoader loader = BootLibraries.class.getClassLoader();
        for (String entry : BootLibraries.SHARED_STATE) {
            String[] parts = entry.split("#", 2);
            Class<?> type = Class.forName(parts[0], false, loader);
            if (parts.length == 2) {
                Method m = type.getMethod(parts[1]);
                assertTrue(Modifier.isStatic(m.getModifiers()), entry);
            }
        }
        BootLibraries.initialiseSharedState(); // no error escapes, whatever is or is not available
    }
}
