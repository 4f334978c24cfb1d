package io.cloudbridge.transport.quic.internal;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.handler.codec.quic.Quic;
import java.io.FileNotFoundException;
import org.junit.jupiter.api.Test;
import org.osgi.framework.BundleException;

/** Where QUIC's native library cannot load, the bundle refuses to start, saying why on one line. */
class QuicBundleLifecycleTest {
    @Test
    void aPlatformWithoutABuildIsNamed() {
        // What Netty 4.2's loader throws on 32-bit x86, where no jar holds the library.
        UnsatisfiedLinkError cause = new UnsatisfiedLinkError("could not load a native library: netty_quiche42_linux_x86_32");
        cause.initCause(new FileNotFoundException("META-INF/native/libnetty_quiche42_linux_x86_32.so"));
        assertEquals("QUIC needs the native library netty-codec-native-quic, which has no build for linux-x86_32"
                + " (os.arch i386) in this distribution; transport-quic stays off and nodes reach their relay over"
                + " WebSocket (feature transport-websocket)", QuicBundleLifecycle.refusal("linux-x86_32", "i386", cause));
    }

    @Test
    void aLibraryThatFailsToLoadSaysWhyOnOneLine() {
        UnsatisfiedLinkError cause = new UnsatisfiedLinkError("could not load a native library: netty_quiche42_linux_x86_64");
        cause.initCause(new UnsatisfiedLinkError("/tmp/libnetty_quiche42_linux_x86_64.so:\n/lib/libc.so.6: version `GLIBC_2.28' not found"));
        assertEquals("QUIC needs the native library netty-codec-native-quic, which did not load on linux-x86_64 (os.arch amd64):"
                + " /tmp/libnetty_quiche42_linux_x86_64.so: /lib/libc.so.6: version `GLIBC_2.28' not found; transport-quic stays"
                + " off and nodes reach their relay over WebSocket (feature transport-websocket)",
                QuicBundleLifecycle.refusal("linux-x86_64", "amd64", cause));
        assertEquals("QUIC needs the native library netty-codec-native-quic, which did not load on linux-x86_64 (os.arch amd64):"
                + " no reason given; transport-quic stays off and nodes reach their relay over WebSocket (feature transport-websocket)",
                QuicBundleLifecycle.refusal("linux-x86_64", "amd64", null));
    }

    @Test
    void theBundleStartsWhereTheLibraryLoadsAndOnlyThere() {
        if (Quic.isAvailable()) { // (the tests' class path has the x86-64 library)
            assertDoesNotThrow(() -> new QuicBundleLifecycle().start(null));
        } else {
            BundleException refused = assertThrows(BundleException.class, () -> new QuicBundleLifecycle().start(null));
            assertTrue(refused.getMessage().startsWith("QUIC needs the native library netty-codec-native-quic, which "), refused.getMessage());
        }
    }
}
