package io.cloudbridge.transport.quic.internal;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.quic.QuicChannel;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;

/**
 * What a session's parts need of their QUIC connection to end it: an application close with its
 * error code and phrase, and the node's address for the log line that says why. An interface so
 * that those parts run on an {@code EmbeddedChannel} in tests; {@link #of} is the real one.
 */
interface ConnectionClose {
    /**
     * A close's phrase, at most, in bytes: it travels in the CONNECTION_CLOSE frame, which has to
     * fit one packet, so a long reason is cut rather than the close lost.
     */
    int MAX_PHRASE = 200;

    /** Closes the connection with the application error {@code applicationError} and {@code phrase} (cut to {@link #MAX_PHRASE} bytes). */
    void close(int applicationError, String phrase);

    /** The node's address, as the logs name it (the UDP peer, not QUIC's connection id). */
    SocketAddress remoteAddress();

    /** {@code phrase} as a close carries it: UTF-8, at most {@link #MAX_PHRASE} bytes. */
    static ByteBuf phrase(String phrase) {
        byte[] bytes = phrase.getBytes(StandardCharsets.UTF_8);
        return Unpooled.wrappedBuffer(bytes, 0, Math.min(bytes.length, MAX_PHRASE));
    }

    static ConnectionClose of(QuicChannel connection) {
        return new ConnectionClose() {
            @Override
            public void close(int applicationError, String phrase) {
                connection.close(true, applicationError, phrase(phrase));
            }

            @Override
            public SocketAddress remoteAddress() {
                return connection.remoteSocketAddress();
            }
        };
    }
}
