package io.cloudbridge.transport.quic.internal;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.netty.channel.embedded.EmbeddedChannel;
import java.io.IOException;
import org.junit.jupiter.api.Test;

/** A failure on a node's connection ends at the session's last handler, not at Netty's tail. */
class SessionFailureLogTest {
    @Test
    void aFailureGoesNoFurther() {
        EmbeddedChannel connection = new EmbeddedChannel(new SessionFailureLog(() -> RelaySessionKit.NODE_ADDRESS));
        connection.pipeline().fireExceptionCaught(new IOException("stream reset"));
        assertDoesNotThrow(connection::checkException);
        connection.finishAndReleaseAll();

        // Without it, the failure would reach the tail (EmbeddedChannel keeps it for checkException).
        EmbeddedChannel bare = new EmbeddedChannel();
        bare.pipeline().fireExceptionCaught(new IOException("stream reset"));
        assertThrows(IOException.class, bare::checkException);
        bare.finishAndReleaseAll();
    }
}
