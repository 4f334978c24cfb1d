package io.cloudbridge.transport.quic.internal;

/**
 * One line of the control stream ({@link QuicWire}), parsed: what the relay reads from a node and
 * what a node reads from its relay. A line of no known kind is {@link Kind#UNKNOWN}; a datagram
 * size that is not a number in {@link #MIN_DATAGRAM}..{@link #MAX_DATAGRAM} is not taken
 * ({@link #NO_NUMBER}), so a broken relay cannot shrink a node's datagrams below one packet.
 */
record ControlLine(Kind kind, String argument, int number) {
    enum Kind { AUTH, PING, PONG, OK, MTU, GOAWAY, ERR, BUSY, UNKNOWN }

    /** An OK or MTU line whose size was absent or out of range. */
    static final int NO_NUMBER = -1;
    /** The smallest datagram worth using: the key and a WireGuard keepalive (32 bytes). */
    static final int MIN_DATAGRAM = QuicWire.KEY_LENGTH + 32;
    /** The largest a QUIC DATAGRAM frame can be. */
    static final int MAX_DATAGRAM = 65_535;

    /** A line the relay reads from a node: {@code PING} or {@code AUTH <token>}. */
    static ControlLine fromNode(String line) {
        if (line.equals("PING")) {
            return new ControlLine(Kind.PING, "", NO_NUMBER);
        }
        if (line.startsWith("AUTH ")) {
            return new ControlLine(Kind.AUTH, line.substring(5).trim(), NO_NUMBER);
        }
        return new ControlLine(Kind.UNKNOWN, "", NO_NUMBER);
    }

    /** A BUSY line's wait, at most: a relay cannot park its nodes for longer than a minute. */
    static final int MAX_BUSY_SECONDS = io.cloudbridge.transport.support.RetryAfter.MOST_SECONDS;

    /**
     * A line a node reads from its relay: {@code OK [size]}, {@code MTU size}, {@code GOAWAY [reason]},
     * {@code PONG}, {@code ERR reason}, {@code BUSY seconds reason} (seconds within 1..{@value #MAX_BUSY_SECONDS};
     * absent or not a number: 1).
     */
    static ControlLine fromRelay(String line) {
        if (line.startsWith("OK")) {
            return new ControlLine(Kind.OK, "", size(line.substring(2)));
        }
        if (line.startsWith("GOAWAY")) {
            return new ControlLine(Kind.GOAWAY, line.length() > 7 ? line.substring(7) : "going away", NO_NUMBER);
        }
        if (line.startsWith("MTU ")) {
            return new ControlLine(Kind.MTU, "", size(line.substring(4)));
        }
        if (line.equals("PONG")) {
            return new ControlLine(Kind.PONG, "", NO_NUMBER);
        }
        if (line.startsWith("ERR ")) {
            return new ControlLine(Kind.ERR, line.substring(4), NO_NUMBER);
        }
        if (line.equals("BUSY") || line.startsWith("BUSY ")) {
            String rest = line.substring(4).trim();
            String[] parts = rest.split(" ", 2);
            java.util.OptionalInt seconds = io.cloudbridge.transport.support.RetryAfter.seconds(parts[0]);
            if (seconds.isPresent()) {
                return new ControlLine(Kind.BUSY, parts.length > 1 ? parts[1] : "busy", seconds.getAsInt());
            }
            return new ControlLine(Kind.BUSY, rest.isEmpty() ? "busy" : rest, 1);
        }
        return new ControlLine(Kind.UNKNOWN, "", NO_NUMBER);
    }

    private static int size(String text) {
        try {
            int n = Integer.parseInt(text.trim());
            return n >= MIN_DATAGRAM && n <= MAX_DATAGRAM ? n : NO_NUMBER;
        } catch (NumberFormatException e) {
            return NO_NUMBER;
        }
    }
}
