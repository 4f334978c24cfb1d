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
}
