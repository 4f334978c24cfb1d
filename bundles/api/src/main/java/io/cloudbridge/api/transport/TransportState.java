package io.cloudbridge.api.transport;

/** The life of a packet session. */
public enum TransportState {
    /** Dialling, handshaking or authenticating. */
    CONNECTING,
    /** Packets flow. */
    CONNECTED,
    /** Lost; the transport is trying again with backoff. */
    RECONNECTING,
    /** Closed on purpose; terminal. */
    CLOSED,
    /** Gave up, with a reason in the session's {@code failure()}; terminal. */
    FAILED
}
