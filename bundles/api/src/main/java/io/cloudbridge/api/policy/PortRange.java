package io.cloudbridge.api.policy;

/**
 * Ports {@code first} to {@code last}, both included.
 */
public record PortRange(int first, int last) {
    public PortRange {
        if (first < 0 || last > 65_535 || first > last) {
            throw new IllegalArgumentException("port range " + first + "-" + last + " is not within 0-65535");
        }
    }

    public boolean contains(int port) {
        return port >= first && port <= last;
    }

    @Override
    public String toString() {
        return first == last ? Integer.toString(first) : first + "-" + last;
    }
}
