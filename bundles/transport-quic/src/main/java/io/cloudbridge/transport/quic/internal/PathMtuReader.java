package io.cloudbridge.transport.quic.internal;

import io.netty.handler.codec.quic.QuicChannel;
import io.netty.handler.codec.quic.QuicConnectionPathStats;
import java.util.function.LongConsumer;

/**
 * The path MTU of a QUIC connection now: the largest UDP payload its path MTU discovery found. An
 * interface so that what follows it runs on an {@code EmbeddedChannel} in tests; {@link #of} is
 * the real one, which reads the connection's path stats.
 */
@FunctionalInterface
interface PathMtuReader {
    /** Hands the path MTU to {@code then}, on the connection's event loop; nothing when it cannot be read. */
    void read(LongConsumer then);

    static PathMtuReader of(QuicChannel connection) {
        return then -> connection.collectPathStats(0).addListener(f -> {
            if (f.isSuccess()) {
                then.accept(((QuicConnectionPathStats) f.getNow()).pmtu());
            }
        });
    }
}
