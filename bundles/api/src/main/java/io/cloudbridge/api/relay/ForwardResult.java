package io.cloudbridge.api.relay;

/** What became of a packet handed to the switch. */
public enum ForwardResult {
    /** Handed to the destination's session. */
    FORWARDED,
    /** No session of that key in the tenant: dropped. */
    NOT_CONNECTED,
    /** The sender or its tenant is over its rate: dropped. */
    RATE_LIMITED,
    /** The destination's session could not take it now: dropped. */
    DESTINATION_BUSY,
    /** Too short or too long to be a WireGuard packet: dropped. */
    MALFORMED,
    /** The sender's port was closed, or replaced by a newer session of its node: dropped. */
    PORT_CLOSED
}
