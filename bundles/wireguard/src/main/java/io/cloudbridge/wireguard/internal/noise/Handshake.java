package io.cloudbridge.wireguard.internal.noise;

import java.security.InvalidKeyException;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import javax.crypto.AEADBadTagException;

/**
 * The Noise_IKpsk2 handshake with one peer (whitepaper section 5.4.2–5.4.4): creating and
 * consuming initiations and responses, and deriving the transport keypair. One instance per peer;
 * its methods are synchronized because the peer's timers and the receive path both drive it.
 */
public final class Handshake {
    /** A peer may not start more than one handshake this often (flood protection). */
    static final Duration INITIATION_MIN_INTERVAL = Duration.ofMillis(20);
    private static final byte[] EMPTY = new byte[0];

    private enum State { NONE, INITIATION_SENT, INITIATION_CONSUMED }

    private final Identity local;
    private final byte[] remoteStatic;
    private final byte[] presharedKey;
    private final byte[] staticStatic;
    private final byte[] remoteMac1Key;
    private final byte[] remoteCookieKey;

    private State state = State.NONE;
    private byte[] chainingKey;
    private byte[] hash;
    private byte[] localEphemeralPrivate;
    private byte[] remoteEphemeral;
    private int localIndex;
    private int remoteIndex;
    private byte[] greatestTimestamp = new byte[12];
    private Instant lastInitiationConsumed = Instant.EPOCH;
    /** The cookie from the peer's latest cookie reply, which goes into MAC2 for two minutes. */
    private byte[] cookie;
    private Instant cookieReceived;
    private byte[] lastMac1Sent;

    /**
     * @param presharedKey 32 bytes, or {@code null} for none (all zeros, as the protocol says)
     * @throws InvalidKeyException when the peer's public key is a low-order point
     */
    public Handshake(Identity local, byte[] remoteStatic, byte[] presharedKey) throws InvalidKeyException {
        if (remoteStatic.length != NoiseCrypto.KEY_LENGTH) {
            throw new InvalidKeyException("a public key is 32 bytes");
        }
        this.local = local;
        this.remoteStatic = remoteStatic.clone();
        this.presharedKey = presharedKey == null ? new byte[NoiseCrypto.KEY_LENGTH] : presharedKey.clone();
        this.staticStatic = NoiseCrypto.dh(local.privateKey(), remoteStatic);
        this.remoteMac1Key = NoiseCrypto.hash(NoiseCrypto.LABEL_MAC1, remoteStatic);
        this.remoteCookieKey = NoiseCrypto.hash(NoiseCrypto.LABEL_COOKIE, remoteStatic);
    }

    public byte[] remoteStatic() {
        return remoteStatic.clone();
    }

    private static byte[] initialChainingKey() {
        return NoiseCrypto.hash(NoiseCrypto.CONSTRUCTION);
    }

    private static byte[] initialHash(byte[] chainingKey, byte[] responderStatic) {
        return NoiseCrypto.hash(NoiseCrypto.hash(chainingKey, NoiseCrypto.IDENTIFIER), responderStatic);
    }

    /** Builds a handshake initiation (148 bytes) with MAC1, and MAC2 when a fresh cookie is held. */
    public synchronized byte[] createInitiation(int newLocalIndex, Instant now) {
        byte[] ck = initialChainingKey();
        byte[] h = initialHash(ck, remoteStatic);
        byte[][] ephemeral = NoiseCrypto.generateKeyPair();
        byte[] msg = new byte[Messages.INITIATION_LENGTH];
        msg[0] = Messages.INITIATION;
        Messages.writeIndex(msg, 4, newLocalIndex);
        System.arraycopy(ephemeral[1], 0, msg, 8, 32);
        ck = NoiseCrypto.kdf(1, ck, ephemeral[1])[0];
        h = NoiseCrypto.hash(h, ephemeral[1]);
        byte[][] kk;
        try {
            kk = NoiseCrypto.kdf(2, ck, NoiseCrypto.dh(ephemeral[0], remoteStatic));
        } catch (InvalidKeyException e) {
            throw new IllegalStateException("checked in the constructor", e);
        }
        ck = kk[0];
        byte[] encryptedStatic = NoiseCrypto.seal(kk[1], 0, local.publicKey(), h);
        System.arraycopy(encryptedStatic, 0, msg, 40, 48);
        h = NoiseCrypto.hash(h, encryptedStatic);
        kk = NoiseCrypto.kdf(2, ck, staticStatic);
        ck = kk[0];
        byte[] encryptedTimestamp = NoiseCrypto.seal(kk[1], 0, NoiseCrypto.tai64n(now), h);
        System.arraycopy(encryptedTimestamp, 0, msg, 88, 28);
        h = NoiseCrypto.hash(h, encryptedTimestamp);
        addMacs(msg, now);

        chainingKey = ck;
        hash = h;
        localEphemeralPrivate = ephemeral[0];
        localIndex = newLocalIndex;
        state = State.INITIATION_SENT;
        return msg;
    }

    /** MAC1 keyed by the peer's public key; MAC2 by the peer's cookie, if one arrived in the last two minutes. */
    private void addMacs(byte[] msg, Instant now) {
        int mac1At = msg.length - 32;
        byte[] mac1 = NoiseCrypto.mac(remoteMac1Key, msg, mac1At);
        System.arraycopy(mac1, 0, msg, mac1At, 16);
        lastMac1Sent = mac1;
        if (cookie != null && cookieReceived.plus(CookieChecker.COOKIE_LIFETIME).isAfter(now)) {
            byte[] mac2 = NoiseCrypto.mac(cookie, msg, mac1At + 16);
            System.arraycopy(mac2, 0, msg, mac1At + 16, 16);
        }
    }

    /**
     * An initiation decrypted as far as its sender's static key: enough to find the peer. Its
     * timestamp is still sealed; the peer's own handshake opens it with the precomputed static
     * Diffie-Hellman, so a stranger's initiation costs one X25519, not two.
     */
    public record Initiation(byte[] remoteStatic, int senderIndex, byte[] remoteEphemeral, byte[] chainingKey,
            byte[] hash, byte[] sealedTimestamp) {
    }

    /** Decrypts an initiation addressed to {@code local} (MACs already checked) up to its sender's static key. */
    public static Initiation decryptInitiation(Identity local, byte[] msg) throws HandshakeException {
        byte[] ck = initialChainingKey();
        byte[] h = initialHash(ck, local.publicKey());
        byte[] ephemeral = Arrays.copyOfRange(msg, 8, 40);
        ck = NoiseCrypto.kdf(1, ck, ephemeral)[0];
        h = NoiseCrypto.hash(h, ephemeral);
        try {
            byte[][] kk = NoiseCrypto.kdf(2, ck, NoiseCrypto.dh(local.privateKey(), ephemeral));
            ck = kk[0];
            byte[] encryptedStatic = Arrays.copyOfRange(msg, 40, 88);
            byte[] remoteStatic = NoiseCrypto.open(kk[1], 0, encryptedStatic, h);
            h = NoiseCrypto.hash(h, encryptedStatic);
            return new Initiation(remoteStatic, Messages.senderIndex(msg), ephemeral, ck, h,
                    Arrays.copyOfRange(msg, 88, 116));
        } catch (InvalidKeyException e) {
            throw new HandshakeException("initiation with a low-order key");
        } catch (AEADBadTagException e) {
            throw new HandshakeException("initiation does not decrypt for this identity");
        }
    }

    /**
     * Takes an initiation from this peer: opens its timestamp, refuses a replayed one and
     * initiations faster than {@link #INITIATION_MIN_INTERVAL}.
     */
    public synchronized void acceptInitiation(Initiation initiation, Instant now) throws HandshakeException {
        if (!MessageDigest.isEqual(initiation.remoteStatic(), remoteStatic)) {
            throw new HandshakeException("initiation from another peer");
        }
        byte[][] kk = NoiseCrypto.kdf(2, initiation.chainingKey(), staticStatic);
        byte[] timestamp;
        try {
            timestamp = NoiseCrypto.open(kk[1], 0, initiation.sealedTimestamp(), initiation.hash());
        } catch (AEADBadTagException e) {
            throw new HandshakeException("initiation timestamp does not authenticate");
        }
        if (Arrays.compareUnsigned(timestamp, greatestTimestamp) <= 0) {
            throw new HandshakeException("replayed initiation (timestamp not newer)");
        }
        if (Duration.between(lastInitiationConsumed, now).compareTo(INITIATION_MIN_INTERVAL) < 0) {
            throw new HandshakeException("initiation flood");
        }
        greatestTimestamp = timestamp;
        lastInitiationConsumed = now;
        chainingKey = kk[0];
        hash = NoiseCrypto.hash(initiation.hash(), initiation.sealedTimestamp());
        remoteEphemeral = initiation.remoteEphemeral();
        remoteIndex = initiation.senderIndex();
        state = State.INITIATION_CONSUMED;
    }

    /** Changes the pre-shared key in place: the replay and flood state stay, as they must. */
    public synchronized void setPresharedKey(byte[] key) {
        byte[] k = key == null ? new byte[NoiseCrypto.KEY_LENGTH] : key;
        if (k.length != NoiseCrypto.KEY_LENGTH) {
            throw new IllegalArgumentException("a pre-shared key is 32 bytes");
        }
        System.arraycopy(k, 0, presharedKey, 0, NoiseCrypto.KEY_LENGTH);
    }

    /** A response message and the keypair it completes on this (the responder's) side. */
    public record Response(byte[] message, Keypair keypair) {
    }

    /** Answers the consumed initiation: builds the response (92 bytes) and derives the keypair. */
    public synchronized Response createResponse(int newLocalIndex, Instant now) throws HandshakeException {
        if (state != State.INITIATION_CONSUMED) {
            throw new HandshakeException("no initiation to answer");
        }
        byte[][] ephemeral = NoiseCrypto.generateKeyPair();
        byte[] msg = new byte[Messages.RESPONSE_LENGTH];
        msg[0] = Messages.RESPONSE;
        Messages.writeIndex(msg, 4, newLocalIndex);
        Messages.writeIndex(msg, 8, remoteIndex);
        System.arraycopy(ephemeral[1], 0, msg, 12, 32);
        byte[] ck = NoiseCrypto.kdf(1, chainingKey, ephemeral[1])[0];
        byte[] h = NoiseCrypto.hash(hash, ephemeral[1]);
        try {
            ck = NoiseCrypto.kdf(1, ck, NoiseCrypto.dh(ephemeral[0], remoteEphemeral))[0];
            ck = NoiseCrypto.kdf(1, ck, NoiseCrypto.dh(ephemeral[0], remoteStatic))[0];
        } catch (InvalidKeyException e) {
            state = State.NONE;
            throw new HandshakeException("initiation with a low-order ephemeral key");
        }
        byte[][] ctk = NoiseCrypto.kdf(3, ck, presharedKey);
        ck = ctk[0];
        h = NoiseCrypto.hash(h, ctk[1]);
        byte[] encryptedNothing = NoiseCrypto.seal(ctk[2], 0, EMPTY, h);
        System.arraycopy(encryptedNothing, 0, msg, 44, 16);
        addMacs(msg, now);
        byte[][] transport = NoiseCrypto.kdf(2, ck, EMPTY);
        Keypair keypair = new Keypair(transport[1], transport[0], newLocalIndex, remoteIndex, false, now);
        wipe();
        return new Response(msg, keypair);
    }

    /** Completes the handshake this side initiated (MACs already checked by the caller). */
    public synchronized Keypair consumeResponse(byte[] msg, Instant now) throws HandshakeException {
        if (state != State.INITIATION_SENT || Messages.receiverIndex(msg) != localIndex) {
            throw new HandshakeException("response to no initiation of ours");
        }
        byte[] ephemeral = Arrays.copyOfRange(msg, 12, 44);
        byte[] ck = NoiseCrypto.kdf(1, chainingKey, ephemeral)[0];
        byte[] h = NoiseCrypto.hash(hash, ephemeral);
        try {
            ck = NoiseCrypto.kdf(1, ck, NoiseCrypto.dh(localEphemeralPrivate, ephemeral))[0];
            ck = NoiseCrypto.kdf(1, ck, NoiseCrypto.dh(local.privateKey(), ephemeral))[0];
        } catch (InvalidKeyException e) {
            throw new HandshakeException("response with a low-order key");
        }
        byte[][] ctk = NoiseCrypto.kdf(3, ck, presharedKey);
        ck = ctk[0];
        h = NoiseCrypto.hash(h, ctk[1]);
        try {
            NoiseCrypto.open(ctk[2], 0, Arrays.copyOfRange(msg, 44, 60), h);
        } catch (AEADBadTagException e) {
            // A wrong pre-shared key or a forged response: keep waiting for the right one.
            throw new HandshakeException("response does not authenticate (wrong pre-shared key?)");
        }
        byte[][] transport = NoiseCrypto.kdf(2, ck, EMPTY);
        Keypair keypair = new Keypair(transport[0], transport[1], localIndex, Messages.senderIndex(msg), true, now);
        wipe();
        return keypair;
    }

    /** Takes a cookie reply to our latest handshake message (whitepaper 5.4.7). */
    public synchronized void consumeCookieReply(byte[] msg, Instant now) throws HandshakeException {
        if (lastMac1Sent == null) {
            throw new HandshakeException("cookie reply to nothing we sent");
        }
        byte[] nonce = Arrays.copyOfRange(msg, 8, 32);
        byte[] sealed = Arrays.copyOfRange(msg, 32, 64);
        try {
            cookie = NoiseCrypto.xopen(remoteCookieKey, nonce, sealed, lastMac1Sent);
            cookieReceived = now;
        } catch (AEADBadTagException e) {
            throw new HandshakeException("cookie reply does not authenticate");
        }
    }

    /** Forgets the in-flight secrets once the keypair is derived. */
    private void wipe() {
        state = State.NONE;
        if (localEphemeralPrivate != null) {
            Arrays.fill(localEphemeralPrivate, (byte) 0);
        }
        localEphemeralPrivate = null;
        chainingKey = null;
        hash = null;
        remoteEphemeral = null;
    }

    /** Zeroes the in-flight handshake (after REJECT_AFTER_TIME x 3 without a session). */
    public synchronized void clear() {
        wipe();
    }
}
