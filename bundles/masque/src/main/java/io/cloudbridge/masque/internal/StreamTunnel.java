package io.cloudbridge.masque.internal;

import io.netty.buffer.ByteBuf;

/** What an accepted request stream carries: a CONNECT-UDP tunnel or a CONNECT-IP session. */
interface StreamTunnel {

    /** A payload from the client: a UDP payload or an IP packet (the caller keeps ownership); {@code viaDatagram}: in a QUIC DATAGRAM frame. */
    void fromClient(ByteBuf payload, boolean viaDatagram);

    /**
     * A capsule other than DATAGRAM (its value is the caller's). Returns an error to abort the
     * stream with, or null. Unknown types never get here: the parser skips them.
     */
    default String capsule(long type, ByteBuf value) {
        return null; // address and route capsules mean nothing to a UDP tunnel
    }

    /** The largest payload a DATAGRAM capsule may carry before the stream is aborted as malformed. */
    int maxPayload();

    void close();

    /** When the client last sent or was sent something, in {@link System#nanoTime()}. */
    long lastActivityNanos();

    /**
     * Closes the tunnel when nothing passed either way for {@code idleSeconds}, and finishes its
     * stream so the client sees the request end; the check runs on the stream's event loop.
     */
    static java.util.concurrent.ScheduledFuture<?> closeWhenIdle(StreamTunnel tunnel, io.netty.handler.codec.quic.QuicStreamChannel stream,
            int idleSeconds) {
        long idle = java.util.concurrent.TimeUnit.SECONDS.toNanos(idleSeconds);
        long every = Math.max(java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(250), idle / 4);
        return stream.eventLoop().scheduleAtFixedRate(() -> {
            if (System.nanoTime() - tunnel.lastActivityNanos() > idle) {
                endFromProxy(tunnel, stream);
            }
        }, every, every, java.util.concurrent.TimeUnit.NANOSECONDS);
    }

    /** The proxy ends the tunnel: closed, then FIN on its side of the stream (on the stream's loop). */
    static void endFromProxy(StreamTunnel tunnel, io.netty.handler.codec.quic.QuicStreamChannel stream) {
        tunnel.close();
        stream.eventLoop().execute(() -> {
            if (stream.isActive()) {
                RequestStream.finish(stream);
            }
        });
    }
}
