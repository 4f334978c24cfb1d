package io.cloudbridge.wireguard.internal.noise;

import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;

/**
 * The receiving side of WireGuard's DoS defence (whitepaper 5.3 and 5.4.7): MAC1 proves a sender
 * knows our public key; under load, MAC2 must carry a cookie bound to the sender's address, which
 * we hand out in encrypted cookie replies. The cookie secret changes every two minutes.
 */
public final class CookieChecker {
    static final Duration COOKIE_LIFETIME = Duration.ofSeconds(120);
    private final Identity local;
    private byte[] secret;
    private Instant secretCreated = Instant.EPOCH;

    public CookieChecker(Identity local) {
        this.local = local;
    }

    /** Whether MAC1 of an initiation or response is right for our public key. */
    public boolean checkMac1(byte[] msg) {
        int at = msg.length - 32;
        byte[] expected = NoiseCrypto.mac(local.mac1Key, msg, at);
        return MessageDigest.isEqual(expected, java.util.Arrays.copyOfRange(msg, at, at + 16));
    }

    /** Whether MAC2 carries the cookie we would give {@code source} (address bytes then port). */
    public synchronized boolean checkMac2(byte[] msg, byte[] source, Instant now) {
        byte[] cookie = NoiseCrypto.mac(secret(now), source, source.length);
        int at = msg.length - 16;
        byte[] expected = NoiseCrypto.mac(cookie, msg, at);
        return MessageDigest.isEqual(expected, java.util.Arrays.copyOfRange(msg, at, at + 16));
    }

    /** A cookie reply (64 bytes) to a handshake message from {@code source}. */
    public synchronized byte[] createReply(byte[] msg, byte[] source, Instant now) {
        byte[] cookie = NoiseCrypto.mac(secret(now), source, source.length);
        byte[] nonce = NoiseCrypto.random(24);
        int mac1At = msg.length - 32;
        byte[] mac1 = java.util.Arrays.copyOfRange(msg, mac1At, mac1At + 16);
        byte[] sealed = NoiseCrypto.xseal(local.cookieKey, nonce, cookie, mac1);
        byte[] reply = new byte[Messages.COOKIE_REPLY_LENGTH];
        reply[0] = Messages.COOKIE_REPLY;
        Messages.writeIndex(reply, 4, Messages.senderIndex(msg));
        System.arraycopy(nonce, 0, reply, 8, 24);
        System.arraycopy(sealed, 0, reply, 32, 32);
        return reply;
    }

    private byte[] secret(Instant now) {
        if (secret == null || !secretCreated.plus(COOKIE_LIFETIME).isAfter(now)) {
            secret = NoiseCrypto.random(32);
            secretCreated = now;
        }
        return secret;
    }
}
