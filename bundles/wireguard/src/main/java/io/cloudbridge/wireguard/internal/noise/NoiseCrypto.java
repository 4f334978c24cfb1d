package io.cloudbridge.wireguard.internal.noise;

import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.InvalidKeyException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.interfaces.XECPrivateKey;
import java.security.interfaces.XECPublicKey;
import java.security.spec.NamedParameterSpec;
import java.security.spec.XECPrivateKeySpec;
import java.security.spec.XECPublicKeySpec;
import java.time.Instant;
import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.KeyAgreement;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.bouncycastle.crypto.InvalidCipherTextException;
import org.bouncycastle.crypto.digests.Blake2sDigest;
import org.bouncycastle.crypto.macs.HMac;
import org.bouncycastle.crypto.modes.XChaCha20Poly1305;
import org.bouncycastle.crypto.params.AEADParameters;
import org.bouncycastle.crypto.params.KeyParameter;

/**
 * The primitives of Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s as WireGuard uses them. X25519 and
 * ChaCha20-Poly1305 come from the JDK; BLAKE2s, HMAC-BLAKE2s and XChaCha20-Poly1305 from
 * BouncyCastle. Nothing here implements a primitive; it only composes them the way the
 * whitepaper's section 5.4 names them (HASH, MAC, HMAC, KDF, AEAD, XAEAD, DH, TAI64N).
 */
public final class NoiseCrypto {
    public static final int KEY_LENGTH = 32;
    public static final int TAG_LENGTH = 16;
    public static final int MAC_LENGTH = 16;
    static final byte[] CONSTRUCTION = ascii("Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s");
    static final byte[] IDENTIFIER = ascii("WireGuard v1 zx2c4 Jason@zx2c4.com");
    static final byte[] LABEL_MAC1 = ascii("mac1----");
    static final byte[] LABEL_COOKIE = ascii("cookie--");
    /** TAI64's label: 2^62, plus the 10 s TAI was ahead of UTC in 1970. */
    private static final long TAI64_BASE = 0x400000000000000aL;
    private static final byte[] BASE_POINT = new byte[KEY_LENGTH];
    private static final SecureRandom RANDOM = new SecureRandom();

    static {
        BASE_POINT[0] = 9;
    }

    private NoiseCrypto() {
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    /** HASH: BLAKE2s-256 of the concatenation. */
    public static byte[] hash(byte[]... parts) {
        Blake2sDigest d = new Blake2sDigest(256);
        for (byte[] p : parts) {
            d.update(p, 0, p.length);
        }
        byte[] out = new byte[32];
        d.doFinal(out, 0);
        return out;
    }

    /** MAC: keyed BLAKE2s with a 16-byte output, over {@code data[0, length)}. */
    public static byte[] mac(byte[] key, byte[] data, int length) {
        Blake2sDigest d = new Blake2sDigest(key, MAC_LENGTH, null, null);
        d.update(data, 0, length);
        byte[] out = new byte[MAC_LENGTH];
        d.doFinal(out, 0);
        return out;
    }

    /** HMAC with BLAKE2s-256. */
    static byte[] hmac(byte[] key, byte[]... parts) {
        HMac h = new HMac(new Blake2sDigest(256));
        h.init(new KeyParameter(key));
        for (byte[] p : parts) {
            h.update(p, 0, p.length);
        }
        byte[] out = new byte[32];
        h.doFinal(out, 0);
        return out;
    }

    /** KDF_n(key, input): HKDF with HMAC-BLAKE2s, returning {@code n} 32-byte outputs. */
    static byte[][] kdf(int n, byte[] key, byte[] input) {
        byte[] prk = hmac(key, input);
        byte[][] out = new byte[n][];
        byte[] previous = new byte[0];
        for (int i = 0; i < n; i++) {
            previous = hmac(prk, previous, new byte[] {(byte) (i + 1)});
            out[i] = previous;
        }
        return out;
    }

    /** The 96-bit AEAD nonce: 32 zero bits, then the counter little-endian. */
    static byte[] nonce(long counter) {
        return ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN).putInt(0).putLong(counter).array();
    }

    /** AEAD: ChaCha20-Poly1305 with a counter nonce. */
    public static byte[] seal(byte[] key, long counter, byte[] plaintext, byte[] aad) {
        try {
            Cipher c = Cipher.getInstance("ChaCha20-Poly1305");
            c.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(key, "ChaCha20"), new IvParameterSpec(nonce(counter)));
            c.updateAAD(aad);
            return c.doFinal(plaintext);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("ChaCha20-Poly1305 is part of every Java 11+ runtime", e);
        }
    }

    /** AEAD open; {@link AEADBadTagException} when the tag does not verify. */
    public static byte[] open(byte[] key, long counter, byte[] ciphertext, byte[] aad) throws AEADBadTagException {
        if (ciphertext.length < TAG_LENGTH) {
            throw new AEADBadTagException("shorter than a tag");
        }
        try {
            Cipher c = Cipher.getInstance("ChaCha20-Poly1305");
            c.init(Cipher.DECRYPT_MODE, new SecretKeySpec(key, "ChaCha20"), new IvParameterSpec(nonce(counter)));
            c.updateAAD(aad);
            return c.doFinal(ciphertext);
        } catch (AEADBadTagException e) {
            throw e;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("ChaCha20-Poly1305 is part of every Java 11+ runtime", e);
        }
    }

    /** XAEAD: XChaCha20-Poly1305 with a 24-byte nonce (cookie replies). */
    static byte[] xseal(byte[] key, byte[] nonce, byte[] plaintext, byte[] aad) {
        XChaCha20Poly1305 c = new XChaCha20Poly1305();
        c.init(true, new AEADParameters(new KeyParameter(key), TAG_LENGTH * 8, nonce, aad));
        byte[] out = new byte[c.getOutputSize(plaintext.length)];
        int n = c.processBytes(plaintext, 0, plaintext.length, out, 0);
        try {
            c.doFinal(out, n);
        } catch (InvalidCipherTextException impossible) {
            throw new IllegalStateException(impossible);
        }
        return out;
    }

    static byte[] xopen(byte[] key, byte[] nonce, byte[] ciphertext, byte[] aad) throws AEADBadTagException {
        XChaCha20Poly1305 c = new XChaCha20Poly1305();
        c.init(false, new AEADParameters(new KeyParameter(key), TAG_LENGTH * 8, nonce, aad));
        byte[] out = new byte[Math.max(0, c.getOutputSize(ciphertext.length))];
        try {
            int n = c.processBytes(ciphertext, 0, ciphertext.length, out, 0);
            c.doFinal(out, n);
        } catch (InvalidCipherTextException e) {
            throw new AEADBadTagException("cookie reply does not verify");
        }
        return out;
    }

    /** A fresh Curve25519 key pair: {private scalar, public u}, raw 32-byte little-endian each. */
    public static byte[][] generateKeyPair() {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("X25519");
            KeyPair kp = g.generateKeyPair();
            byte[] priv = ((XECPrivateKey) kp.getPrivate()).getScalar().orElseThrow();
            return new byte[][] {priv, uToBytes(((XECPublicKey) kp.getPublic()).getU())};
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("X25519 is part of every Java 11+ runtime", e);
        }
    }

    /** The public key of a private scalar: X25519(private, 9). */
    public static byte[] publicKey(byte[] privateKey) {
        try {
            return dh(privateKey, BASE_POINT);
        } catch (InvalidKeyException e) {
            throw new IllegalArgumentException("not a usable private key", e);
        }
    }

    /** DH: X25519; refuses a result of all zeros (a low-order point from the peer). */
    public static byte[] dh(byte[] privateKey, byte[] publicKey) throws InvalidKeyException {
        try {
            KeyFactory f = KeyFactory.getInstance("XDH");
            PrivateKey priv = f.generatePrivate(new XECPrivateKeySpec(NamedParameterSpec.X25519, privateKey));
            PublicKey pub = f.generatePublic(new XECPublicKeySpec(NamedParameterSpec.X25519, bytesToU(publicKey)));
            KeyAgreement ka = KeyAgreement.getInstance("XDH");
            ka.init(priv);
            ka.doPhase(pub, true);
            byte[] shared = ka.generateSecret();
            if (MessageDigest.isEqual(shared, new byte[shared.length])) {
                throw new InvalidKeyException("X25519 produced zero: low-order public key");
            }
            return shared;
        } catch (InvalidKeyException e) {
            throw e;
        } catch (GeneralSecurityException e) {
            throw new InvalidKeyException("X25519 failed: " + e.getMessage(), e);
        }
    }

    /** RFC 7748: the u-coordinate is little-endian with the top bit masked. */
    private static BigInteger bytesToU(byte[] le) {
        byte[] be = new byte[KEY_LENGTH];
        for (int i = 0; i < KEY_LENGTH; i++) {
            be[i] = le[KEY_LENGTH - 1 - i];
        }
        be[0] &= 0x7f;
        return new BigInteger(1, be);
    }

    private static byte[] uToBytes(BigInteger u) {
        byte[] be = u.toByteArray();
        byte[] le = new byte[KEY_LENGTH];
        for (int i = 0; i < Math.min(be.length, KEY_LENGTH); i++) {
            le[i] = be[be.length - 1 - i];
        }
        return le;
    }

    /**
     * TAI64N of now: 8 bytes of seconds, 4 of nanoseconds, big-endian. The nanoseconds are rounded
     * down to about 16 ms so the timestamp does not reveal the clock's fine grain (as wireguard-go
     * does); it still grows with every handshake a peer can usefully send.
     */
    static byte[] tai64n(Instant now) {
        int nanos = now.getNano() & ~0xffffff;
        return ByteBuffer.allocate(12).putLong(TAI64_BASE + now.getEpochSecond()).putInt(nanos).array();
    }

    public static byte[] random(int length) {
        byte[] b = new byte[length];
        RANDOM.nextBytes(b);
        return b;
    }

    /** A random 32-bit session index. */
    public static int randomIndex() {
        return RANDOM.nextInt();
    }

    static byte[] concat(byte[] a, byte[] b) {
        byte[] out = new byte[a.length + b.length];
        System.arraycopy(a, 0, out, 0, a.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
