package io.cloudbridge.relay.internal;

/**
 * A rate of packets and bytes with a burst of one second's worth. Refilled lazily from the clock
 * the caller passes, so it costs nothing while idle. A rate of 0 is no limit.
 */
final class TokenBucket {
    private final long packetsPerSecond;
    private final long bytesPerSecond;
    private double packets;
    private double bytes;
    private long lastNanos;

    TokenBucket(long packetsPerSecond, long bytesPerSecond, long nowNanos) {
        this.packetsPerSecond = packetsPerSecond;
        this.bytesPerSecond = bytesPerSecond;
        this.packets = packetsPerSecond;
        this.bytes = bytesPerSecond;
        this.lastNanos = nowNanos;
    }

    /** Takes one packet of {@code size} bytes if the rate allows it now. */
    synchronized boolean take(int size, long nowNanos) {
        long elapsed = nowNanos - lastNanos;
        if (elapsed > 0) {
            double seconds = elapsed / 1e9;
            packets = Math.min(packetsPerSecond, packets + seconds * packetsPerSecond);
            bytes = Math.min(bytesPerSecond, bytes + seconds * bytesPerSecond);
            lastNanos = nowNanos;
        }
        boolean packetOk = packetsPerSecond == 0 || packets >= 1;
        boolean bytesOk = bytesPerSecond == 0 || bytes >= size;
        if (!packetOk || !bytesOk) {
            return false;
        }
        packets -= 1;
        bytes -= size;
        return true;
    }
}
