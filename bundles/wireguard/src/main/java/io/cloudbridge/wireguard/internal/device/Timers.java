package io.cloudbridge.wireguard.internal.device;

import io.cloudbridge.wireguard.internal.noise.Keypair;
import java.time.Duration;
import java.time.Instant;

/**
 * The protocol's timer constants (whitepaper section 6.1), configurable so that tests need not wait
 * minutes; {@link #STANDARD} holds the protocol's values.
 *
 * @param rekeyAfterTime    an initiator starts a new handshake when its session is this old
 * @param rejectAfterTime   a session this old is no longer used for sending or receiving
 * @param rekeyAttemptTime  give up retrying a handshake after this long
 * @param rekeyTimeout      retry a handshake when no response came within this (plus jitter)
 * @param keepaliveTimeout  send a keepalive when data came in and nothing went out for this long
 * @param persistentKeepalive send something at least this often (zero: off), to hold NAT mappings open
 */
public record Timers(Duration rekeyAfterTime, Duration rejectAfterTime, Duration rekeyAttemptTime,
        Duration rekeyTimeout, Duration keepaliveTimeout, Duration persistentKeepalive) {

    public static final Timers STANDARD = new Timers(Duration.ofSeconds(120), Duration.ofSeconds(180),
            Duration.ofSeconds(90), Duration.ofSeconds(5), Duration.ofSeconds(10), Duration.ZERO);

    /** After a message count this high a new handshake is started (2^60). */
    public static final long REKEY_AFTER_MESSAGES = 1L << 60;
    /** Jitter added to each handshake retry, so peers do not retry in lock step. */
    public static final Duration REKEY_TIMEOUT_JITTER = Duration.ofMillis(333);

    /** With no new session for this long, every key of the peer is erased (3 x REJECT_AFTER_TIME). */
    public Duration zeroKeysAfter() {
        return rejectAfterTime.multipliedBy(3);
    }

    /** Whether a session is young enough for data, sent or received (under REJECT_AFTER_TIME). */
    boolean usable(Keypair keypair, Instant now) {
        return age(keypair, now).compareTo(rejectAfterTime()) < 0;
    }

    static Duration age(Keypair keypair, Instant now) {
        return Duration.between(keypair.created(), now);
    }

    /** How often the timer loop looks at the peers: fine enough for the shortest timer. */
    Duration tick() {
        Duration shortest = rekeyTimeout.compareTo(keepaliveTimeout) < 0 ? rekeyTimeout : keepaliveTimeout;
        Duration tenth = shortest.dividedBy(10);
        return tenth.compareTo(Duration.ofMillis(100)) < 0 ? tenth : Duration.ofMillis(100);
    }

    public Timers withPersistentKeepalive(Duration interval) {
        return new Timers(rekeyAfterTime, rejectAfterTime, rekeyAttemptTime, rekeyTimeout, keepaliveTimeout, interval);
    }
}
