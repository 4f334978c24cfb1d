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
 * The data path's AEAD, ChaCha20-Poly1305, encrypting from and into caller-owned arrays at offsets
 * so that a packet is not copied to get there. Two implementations, whichever is faster on the
 * running JDK (measured per 1,424-byte packet, see docs/performance.md): the engine's own
 * ({@link ChaCha20Poly1305}) before Java 21, where the JDK's is plain Java with a costly set-up per
 * packet; the JDK's from 21 on, where it runs on vector instructions. The JDK's is one
 * {@link Cipher} per thread (looking one up costs more than the encryption of a packet),
 * re-initialised per packet with the counter nonce. {@code -Dcloudbridge.wireguard.aead=jdk} or
 * {@code =engine} chooses one (for comparing them).
 */
final class TransportCipher {
    /** Whether packets go through the engine's own implementation. */
    static final boolean ENGINE_AEAD = switch (System.getProperty("cloudbridge.wireguard.aead", "")) {
        case "jdk" -> false;
        case "engine" -> true;
        default -> Runtime.version().feature() < 21;
    };

    /** A transport key in the form each implementation takes. */
    static final class Key {
        final SecretKey jdk;
        final int[] words;

        Key(byte[] raw) {
            jdk = new SecretKeySpec(raw, "ChaCha20");
            words = ChaCha20Poly1305.key(raw);
        }
    }

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
    /** A transport message has no additional data. */
    private static final byte[] NO_DATA = new byte[0];

    private TransportCipher() {
    }

    static Key key(byte[] raw) {
        return new Key(raw);
    }

    private static IvParameterSpec nonce(long counter) {
        byte[] n = NONCE.get();
        ByteBuffer.wrap(n).order(ByteOrder.LITTLE_ENDIAN).putInt(0, 0).putLong(4, counter);
        return new IvParameterSpec(n);
    }

    /** Encrypts {@code in[inOffset, inOffset+length)} into {@code out} at {@code outOffset}; returns the bytes written. */
    static int seal(Key key, long counter, byte[] in, int inOffset, int length, byte[] out, int outOffset) {
        if (ENGINE_AEAD) { // WireGuard's nonce: four zero bytes, then the counter little-endian
            return ChaCha20Poly1305.seal(key.words, 0, (int) counter, (int) (counter >>> 32), NO_DATA, 0, 0, in, inOffset, length, out,
                    outOffset);
        }
        Cipher c = ENCRYPTER.get();
        try {
            c.init(Cipher.ENCRYPT_MODE, key.jdk, nonce(counter));
            return c.doFinal(in, inOffset, length, out, outOffset);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("ChaCha20-Poly1305 refused a valid key and nonce", e);
        }
    }

    /** Decrypts and authenticates; returns the plaintext length written to {@code out}. */
    static int open(Key key, long counter, byte[] in, int inOffset, int length, byte[] out, int outOffset)
            throws AEADBadTagException {
        if (ENGINE_AEAD) {
            return ChaCha20Poly1305.open(key.words, 0, (int) counter, (int) (counter >>> 32), NO_DATA, 0, 0, in, inOffset, length, out,
                    outOffset);
        }
        Cipher c = DECRYPTER.get();
        try {
            try {
                c.init(Cipher.DECRYPT_MODE, key.jdk, nonce(counter));
            } catch (java.security.InvalidKeyException sameAsLastTime) {
                // The same packet again (a replay, caught after authentication): a fresh cipher
                // decrypts it so that the replay window, not the JDK, is what refuses it.
                c = newCipher();
                DECRYPTER.set(c);
                c.init(Cipher.DECRYPT_MODE, key.jdk, nonce(counter));
            }
            return c.doFinal(in, inOffset, length, out, outOffset);
        } catch (AEADBadTagException e) {
            throw e;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("ChaCha20-Poly1305 refused a valid key and nonce", e);
        }
    }
}
