package io.cloudbridge.api.mesh;

/** How a peer's packets travel. */
public enum PathKind {
    /** Straight over UDP, after hole punching. */
    DIRECT,
    /** Through the relay's transport session. */
    RELAY,
    /** Through a MASQUE (CONNECT-UDP) proxy. */
    MASQUE
}
