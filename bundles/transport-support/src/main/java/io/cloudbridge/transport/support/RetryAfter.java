package io.cloudbridge.transport.support;

import java.util.OptionalInt;

/**
 * A relay's "come back in N seconds", as every transport reads it (HTTP's Retry-After in
 * delay-seconds, RFC 9110 10.2.3; the QUIC transport's BUSY line): within 1..{@value #MOST_SECONDS},
 * a number too long to parse being "long", so the most.
 */
public final class RetryAfter {
    /** The longest wait a relay may ask of its nodes. */
    public static final int MOST_SECONDS = 60;

    private RetryAfter() {
    }

    /** The wait {@code text} asks, when it is a number of seconds (digits only); empty otherwise. */
    public static OptionalInt seconds(String text) {
        String digits = text == null ? "" : text.trim();
        if (digits.isEmpty() || !digits.chars().allMatch(c -> c >= '0' && c <= '9')) {
            return OptionalInt.empty();
        }
        return OptionalInt.of(digits.length() > 9 ? MOST_SECONDS : Math.max(1, Math.min(MOST_SECONDS, Integer.parseInt(digits))));
    }
}
