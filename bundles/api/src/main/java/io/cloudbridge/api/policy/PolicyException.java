package io.cloudbridge.api.policy;

/**
 * A policy that is refused: it does not parse, names what it does not define, has a membership
 * cycle, a value out of range, or fails one of its own tests. The previous policy stays in force.
 */
public final class PolicyException extends Exception {
    private static final long serialVersionUID = 1L;
    private final int line;

    /** @param line the file's line the problem is on, from 1; 0 when it is the whole file's */
    public PolicyException(int line, String reason) {
        super(line > 0 ? "line " + line + ": " + reason : reason);
        this.line = line;
    }

    public int line() {
        return line;
    }
}
