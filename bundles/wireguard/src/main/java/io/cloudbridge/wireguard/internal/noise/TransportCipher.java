package io.cloudbridge.wireguard.internal.noise;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.GeneralSecurityException;
import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.SecretKey;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * The data path's AEAD: ChaCha20-Poly1305 from the JDK, one {@link Cipher} per thread (looking one
 * up costs more than the encryption of a packet), re-initialised per packet with the counter nonce,
 * encrypting from and into caller-owned arrays at offsets so that a packet is not copied to get
 * there.
 */
final class TransportCipher {
    /*
     * Separate ciphers for the two directions: the JDK refuses to initialise a ChaCha20-Poly1305
     * cipher with the key and nonce of its previous initialisation, which is what decrypting the
     * packet one just encrypted (a loopback test) or a replayed packet would do.
     */
    private static final ThreadLocal<Cipher> ENCRYPTER = ThreadLocal.withInitial(TransportCipher::newCipher);
    private static final ThreadLocal<Cipher> DECRYPTER = ThreadLocal.withInitial(TransportCipher::newCipher);

    private static Cipher newCipher() {
        try {
            return Cipher.getInstance("ChaCha20-Poly1305");
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("ChaCha20-Poly1305 is part of every Java 11+ runtime", e);
        }
    }
    private static final ThreadLocal<byte[]> NONCE = ThreadLocal.withInitial(() -> new byte[12]);

    private TransportCipher() {
    }

    static SecretKey key(byte[] raw) {
        return new SecretKeySpec(raw, "ChaCha20");
    }

    private static IvParameterSpec nonce(long counter) {
        byte[] n = NONCE.get();
        ByteBuffer.wrap(n).order(ByteOrder.LITTLE_ENDIAN).putInt(0, 0).putLong(4, counter);
        return new IvParameterSpec(n);
    }

    /** Encrypts {@code in[inOffset, inOffset+length)} into {@code out} at {@code outOffset}; returns the bytes written. */
    static int seal(SecretKey key, long counter, byte[] in, int inOffset, int length, byte[] out, int outOffset) {
        Cipher c = ENCRYPTER.get();
        try {
            c.init(Cipher.ENCRYPT_MODE, key, nonce(counter));
            return c.doFinal(in, inOffset, length, out, outOffset);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("ChaCha20-Poly1305 refused a valid key and nonce", e);
        }
    }

    /** Decrypts and authenticates; returns the plaintext length written to {@code out}. */
    static int open(SecretKey key, long counter, byte[] in, int inOffset, int length, byte[] out, int outOffset)
            throws AEADBadTagException {
        Cipher c = DECRYPTER.get();
        try {
            try {
                c.init(Cipher.DECRYPT_MODE, key, nonce(counter));
            } catch (java.security.InvalidKeyException sameAsLastTime) {
                // The same packet again (a replay, caught after authentication): a fresh cipher
                // decrypts it so that the replay window, not the JDK, is what refuses it.
                c = newCipher();
                DECRYPTER.set(c);
                c.init(Cipher.DECRYPT_MODE, key, nonce(counter));
            }
            return c.doFinal(in, inOffset, length, out, outOffset);
        } catch (AEADBadTagException e) {
            throw e;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("ChaCha20-Poly1305 refused a valid key and nonce", e);
        }
    }
}
