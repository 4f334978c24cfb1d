package io.cloudbridge.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
    void theSystemBundleExportsNettysPackagesAsItsManifestWritesThem() {
        List<String> exports = BootLibraries.exports();
        assertEquals(1, exports.size(), "netty-common is the one boot library on this class path: " + exports);
        String common = exports.get(0);
        assertTrue(common.contains("io.netty.util;"), common);
        assertTrue(common.contains("version=\"" + nettyVersion() + "\""), common);
        // Uses constraints hold quoted commas: the value is passed whole, never split on commas.
        assertTrue(common.matches("(?s).*uses:=\"[^\"]*,[^\"]*\".*"), common);
        assertTrue(RuntimeProperties.systemPackagesExtra().contains(common));
    }

    @Test
    void sharedStateIsMadeOnceAndWhatIsNotOnTheClassPathIsSkipped() {
        // netty-common's classes are here; the handler's, epoll's and QUIC's are not, and are skipped.
        BootLibraries.initialiseSharedState();
        BootLibraries.initialiseSharedState();
        assertTrue(io.netty.util.concurrent.ImmediateEventExecutor.INSTANCE.terminationFuture().cause()
                instanceof UnsupportedOperationException);
    }

    private static String nettyVersion() {
        String v = io.netty.util.Version.identify().get("netty-common").artifactVersion(); // 4.2.18.Final
        return v.replace(".Final", "");
    }
}
