package io.cloudbridge.api.mesh;

/** How a peer's packets travel. */
public enum PathKind {
    /** Straight over UDP, after hole punching. */
    DIRECT,
    /** Through the relay's transport session. */
    RELAY,
    /** Through a MASQUE (CONNECT-UDP) proxy. */
    MASQUE,
    /**
     * Through a TURN server's relayed candidate (RFC 8656): the pair ICE selected where no direct
     * pair succeeded and a TURN server is configured; end-to-end encrypted as every path is.
     */
    TURN
}
