package io.cloudbridge.wireguard.internal.noise;

/**
 * The sliding window of received counters (RFC 6479's bitmap of blocks): a counter is accepted
 * once, and only while it is within {@link #WINDOW} of the highest counter seen. Not thread-safe;
 * the session that owns it serialises calls.
 */
final class ReplayWindow {
    private static final int BLOCK_BITS = 64;
    private static final int BLOCKS = 128; // a power of two
    /** Counters this far behind the newest are still accepted once. */
    static final long WINDOW = (long) (BLOCKS - 1) * BLOCK_BITS;
    /** After this many messages a session is no longer used (whitepaper: 2^64 - 2^13 - 1). */
    static final long REJECT_AFTER_MESSAGES = -1L - (1L << 13); // as unsigned: 2^64 - 2^13 - 1

    private final long[] blocks = new long[BLOCKS];
    private long last;

    /** Whether {@code counter} would be refused now (seen, too old, or past the limit); records nothing. */
    boolean refuses(long counter) {
        if (Long.compareUnsigned(counter, REJECT_AFTER_MESSAGES) >= 0) {
            return true;
        }
        if (Long.compareUnsigned(counter, last) > 0) {
            return false;
        }
        if (last - counter > WINDOW) {
            return true;
        }
        long bit = 1L << (counter & (BLOCK_BITS - 1));
        return (blocks[(int) ((counter >>> 6) & (BLOCKS - 1))] & bit) != 0;
    }

    /** Accepts {@code counter} if it is new and inside the window; records it. */
    boolean accept(long counter) {
        if (Long.compareUnsigned(counter, REJECT_AFTER_MESSAGES) >= 0) {
            return false;
        }
        long index = counter >>> 6;
        if (Long.compareUnsigned(counter, last) > 0) {
            long current = last >>> 6;
            long diff = Math.min(index - current, BLOCKS);
            for (long i = 1; i <= diff; i++) {
                blocks[(int) ((current + i) & (BLOCKS - 1))] = 0;
            }
            last = counter;
        } else if (last - counter > WINDOW) {
            return false;
        }
        int block = (int) (index & (BLOCKS - 1));
        long bit = 1L << (counter & (BLOCK_BITS - 1));
        if ((blocks[block] & bit) != 0) {
            return false;
        }
        blocks[block] |= bit;
        return true;
    }
}
