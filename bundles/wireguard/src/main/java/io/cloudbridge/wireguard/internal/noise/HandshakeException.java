package io.cloudbridge.wireguard.internal.noise;

/** A handshake message that is refused; the message says why (for the drop counters and logs). */
public final class HandshakeException extends Exception {
    private static final long serialVersionUID = 1L;

    public HandshakeException(String message) {
        super(message);
    }
}
