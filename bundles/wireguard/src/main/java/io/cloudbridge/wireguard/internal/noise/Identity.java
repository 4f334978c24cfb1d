package io.cloudbridge.wireguard.internal.noise;

/**
 * This end's static key pair, with the values derived from its public key that every handshake
 * needs (the MAC1 and cookie keys a peer uses to reach us).
 */
public final class Identity {
    private final byte[] privateKey;
    private final byte[] publicKey;
    final byte[] mac1Key;
    final byte[] cookieKey;

    public Identity(byte[] privateKey) {
        if (privateKey.length != NoiseCrypto.KEY_LENGTH) {
            throw new IllegalArgumentException("a private key is 32 bytes");
        }
        this.privateKey = privateKey.clone();
        this.publicKey = NoiseCrypto.publicKey(this.privateKey);
        this.mac1Key = NoiseCrypto.hash(NoiseCrypto.LABEL_MAC1, publicKey);
        this.cookieKey = NoiseCrypto.hash(NoiseCrypto.LABEL_COOKIE, publicKey);
    }

    public static Identity generate() {
        return new Identity(NoiseCrypto.generateKeyPair()[0]);
    }

    public byte[] publicKey() {
        return publicKey.clone();
    }

    /** The private key, for the UAPI's {@code get} (served to root or the daemon's user only). */
    public byte[] privateKeyForExport() {
        return privateKey.clone();
    }

    byte[] privateKey() {
        return privateKey;
    }
}
