package io.cloudbridge.wireguard.internal.noise;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import javax.crypto.AEADBadTagException;

/**
 * ChaCha20-Poly1305 (RFC 8439) on byte arrays at offsets, with no state between calls and nothing
 * allocated per call. On JDK 17 the JDK's cipher is plain Java too, but each packet pays for an
 * {@code init} (a fresh Poly1305 with its big-number limbs) and, when decrypting, for buffering the
 * whole ciphertext in a growing stream before it authenticates it: about 6 KB of garbage and an
 * extra copy per packet. Newer JDKs compile theirs to vector instructions, which this cannot
 * match; {@link TransportCipher} picks whichever is faster on the running JDK.
 *
 * <p>Poly1305 runs on 26-bit limbs in {@code long}s (products of two limbs and a factor 5 stay
 * below 2^59); ChaCha20's words are read and written little-endian through a byte-array view.
 */
final class ChaCha20Poly1305 {
    static final int TAG_LENGTH = 16;
    private static final VarHandle LE_INT = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle LE_LONG = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
    private static final int MASK26 = 0x3ffffff;
    /** Where a call's own bytes lie in its thread's scratch array. */
    private static final int ONE_TIME_KEY = 0;
    private static final int KEYSTREAM = 32;
    private static final int TAG = 96;
    private static final int LENGTHS = 112;
    private static final int PADDED = 128;
    private static final int SCRATCH_LENGTH = 144;

    /** Per thread: the one-time key, a keystream block, a computed tag, the lengths block, a padded last block; Poly1305's state. */
    private static final class Scratch {
        final byte[] bytes = new byte[SCRATCH_LENGTH];
        final long[] h = new long[5];
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    private ChaCha20Poly1305() {
    }

    /** A 256-bit key as the eight little-endian words ChaCha20 takes. */
    static int[] key(byte[] raw) {
        if (raw.length != 32) {
            throw new IllegalArgumentException("a ChaCha20 key is 32 bytes, not " + raw.length);
        }
        int[] k = new int[8];
        for (int i = 0; i < 8; i++) {
            k[i] = (int) LE_INT.get(raw, 4 * i);
        }
        return k;
    }

    /**
     * Encrypts {@code in[inOffset, +length)} into {@code out} at {@code outOffset} and appends the
     * tag; the nonce is the three words {@code n0, n1, n2}. Returns {@code length + 16}.
     */
    static int seal(int[] key, int n0, int n1, int n2, byte[] aad, int aadOffset, int aadLength,
            byte[] in, int inOffset, int length, byte[] out, int outOffset) {
        Scratch scratch = SCRATCH.get();
        block(key, 0, n0, n1, n2, scratch.bytes, ONE_TIME_KEY); // the one-time Poly1305 key: the first 32 bytes of block 0
        xor(key, n0, n1, n2, in, inOffset, length, out, outOffset, scratch.bytes);
        mac(scratch, aad, aadOffset, aadLength, out, outOffset, length, out, outOffset + length);
        return length + TAG_LENGTH;
    }

    /**
     * Authenticates {@code in[inOffset, +length)} (ciphertext and tag), then decrypts it into
     * {@code out} at {@code outOffset}; nothing is written when it does not authenticate. Returns
     * the plaintext's length.
     */
    static int open(int[] key, int n0, int n1, int n2, byte[] aad, int aadOffset, int aadLength,
            byte[] in, int inOffset, int length, byte[] out, int outOffset) throws AEADBadTagException {
        int cipherLength = length - TAG_LENGTH;
        if (cipherLength < 0) {
            throw new AEADBadTagException("shorter than a tag");
        }
        Scratch scratch = SCRATCH.get();
        block(key, 0, n0, n1, n2, scratch.bytes, ONE_TIME_KEY);
        mac(scratch, aad, aadOffset, aadLength, in, inOffset, cipherLength, scratch.bytes, TAG);
        if (!constantTimeEquals(scratch.bytes, TAG, in, inOffset + cipherLength)) {
            throw new AEADBadTagException("Tag mismatch");
        }
        xor(key, n0, n1, n2, in, inOffset, cipherLength, out, outOffset, scratch.bytes);
        return cipherLength;
    }

    private static boolean constantTimeEquals(byte[] a, int aOffset, byte[] b, int bOffset) {
        int diff = 0;
        for (int i = 0; i < TAG_LENGTH; i++) {
            diff |= a[aOffset + i] ^ b[bOffset + i];
        }
        return diff == 0;
    }

    /** XORs the keystream from block 1 on, a block at a time through the scratch's keystream block. */
    private static void xor(int[] key, int n0, int n1, int n2, byte[] in, int inOffset, int length, byte[] out, int outOffset,
            byte[] scratch) {
        int counter = 1;
        int done = 0;
        while (length - done >= 64) {
            block(key, counter++, n0, n1, n2, scratch, KEYSTREAM);
            int i = inOffset + done;
            int o = outOffset + done;
            for (int w = 0; w < 64; w += 8) {
                LE_LONG.set(out, o + w, (long) LE_LONG.get(in, i + w) ^ (long) LE_LONG.get(scratch, KEYSTREAM + w));
            }
            done += 64;
        }
        if (done < length) {
            block(key, counter, n0, n1, n2, scratch, KEYSTREAM);
            for (int j = 0; done + j < length; j++) {
                out[outOffset + done + j] = (byte) (in[inOffset + done + j] ^ scratch[KEYSTREAM + j]);
            }
        }
    }

    /** One ChaCha20 block (RFC 8439 section 2.3) into {@code out[at, at+64)}. */
    static void block(int[] key, int counter, int n0, int n1, int n2, byte[] out, int at) {
        int x0 = 0x61707865, x1 = 0x3320646e, x2 = 0x79622d32, x3 = 0x6b206574;
        int x4 = key[0], x5 = key[1], x6 = key[2], x7 = key[3], x8 = key[4], x9 = key[5], x10 = key[6], x11 = key[7];
        int x12 = counter, x13 = n0, x14 = n1, x15 = n2;
        for (int r = 0; r < 10; r++) {
            x0 += x4; x12 = Integer.rotateLeft(x12 ^ x0, 16); x8 += x12; x4 = Integer.rotateLeft(x4 ^ x8, 12);
            x0 += x4; x12 = Integer.rotateLeft(x12 ^ x0, 8); x8 += x12; x4 = Integer.rotateLeft(x4 ^ x8, 7);
            x1 += x5; x13 = Integer.rotateLeft(x13 ^ x1, 16); x9 += x13; x5 = Integer.rotateLeft(x5 ^ x9, 12);
            x1 += x5; x13 = Integer.rotateLeft(x13 ^ x1, 8); x9 += x13; x5 = Integer.rotateLeft(x5 ^ x9, 7);
            x2 += x6; x14 = Integer.rotateLeft(x14 ^ x2, 16); x10 += x14; x6 = Integer.rotateLeft(x6 ^ x10, 12);
            x2 += x6; x14 = Integer.rotateLeft(x14 ^ x2, 8); x10 += x14; x6 = Integer.rotateLeft(x6 ^ x10, 7);
            x3 += x7; x15 = Integer.rotateLeft(x15 ^ x3, 16); x11 += x15; x7 = Integer.rotateLeft(x7 ^ x11, 12);
            x3 += x7; x15 = Integer.rotateLeft(x15 ^ x3, 8); x11 += x15; x7 = Integer.rotateLeft(x7 ^ x11, 7);
            x0 += x5; x15 = Integer.rotateLeft(x15 ^ x0, 16); x10 += x15; x5 = Integer.rotateLeft(x5 ^ x10, 12);
            x0 += x5; x15 = Integer.rotateLeft(x15 ^ x0, 8); x10 += x15; x5 = Integer.rotateLeft(x5 ^ x10, 7);
            x1 += x6; x12 = Integer.rotateLeft(x12 ^ x1, 16); x11 += x12; x6 = Integer.rotateLeft(x6 ^ x11, 12);
            x1 += x6; x12 = Integer.rotateLeft(x12 ^ x1, 8); x11 += x12; x6 = Integer.rotateLeft(x6 ^ x11, 7);
            x2 += x7; x13 = Integer.rotateLeft(x13 ^ x2, 16); x8 += x13; x7 = Integer.rotateLeft(x7 ^ x8, 12);
            x2 += x7; x13 = Integer.rotateLeft(x13 ^ x2, 8); x8 += x13; x7 = Integer.rotateLeft(x7 ^ x8, 7);
            x3 += x4; x14 = Integer.rotateLeft(x14 ^ x3, 16); x9 += x14; x4 = Integer.rotateLeft(x4 ^ x9, 12);
            x3 += x4; x14 = Integer.rotateLeft(x14 ^ x3, 8); x9 += x14; x4 = Integer.rotateLeft(x4 ^ x9, 7);
        }
        LE_INT.set(out, at, x0 + 0x61707865);
        LE_INT.set(out, at + 4, x1 + 0x3320646e);
        LE_INT.set(out, at + 8, x2 + 0x79622d32);
        LE_INT.set(out, at + 12, x3 + 0x6b206574);
        LE_INT.set(out, at + 16, x4 + key[0]);
        LE_INT.set(out, at + 20, x5 + key[1]);
        LE_INT.set(out, at + 24, x6 + key[2]);
        LE_INT.set(out, at + 28, x7 + key[3]);
        LE_INT.set(out, at + 32, x8 + key[4]);
        LE_INT.set(out, at + 36, x9 + key[5]);
        LE_INT.set(out, at + 40, x10 + key[6]);
        LE_INT.set(out, at + 44, x11 + key[7]);
        LE_INT.set(out, at + 48, x12 + counter);
        LE_INT.set(out, at + 52, x13 + n0);
        LE_INT.set(out, at + 56, x14 + n1);
        LE_INT.set(out, at + 60, x15 + n2);
    }

    /**
     * The AEAD's tag (RFC 8439 section 2.8): Poly1305 under the scratch's one-time key over the
     * additional data and the ciphertext, each padded to 16 bytes, then both lengths.
     */
    private static void mac(Scratch scratch, byte[] aad, int aadOffset, int aadLength, byte[] cipher, int cipherOffset,
            int cipherLength, byte[] tag, int tagOffset) {
        byte[] oneTime = scratch.bytes;
        long t0 = (int) LE_INT.get(oneTime, ONE_TIME_KEY) & 0xffffffffL;
        long t1 = (int) LE_INT.get(oneTime, ONE_TIME_KEY + 4) & 0xffffffffL;
        long t2 = (int) LE_INT.get(oneTime, ONE_TIME_KEY + 8) & 0xffffffffL;
        long t3 = (int) LE_INT.get(oneTime, ONE_TIME_KEY + 12) & 0xffffffffL;
        // r, clamped, in 26-bit limbs
        long r0 = t0 & 0x3ffffff;
        long r1 = ((t0 >>> 26) | (t1 << 6)) & 0x3ffff03;
        long r2 = ((t1 >>> 20) | (t2 << 12)) & 0x3ffc0ff;
        long r3 = ((t2 >>> 14) | (t3 << 18)) & 0x3f03fff;
        long r4 = (t3 >>> 8) & 0x00fffff;
        long[] h = scratch.h;
        java.util.Arrays.fill(h, 0);
        if (aadLength > 0) {
            absorb(h, aad, aadOffset, aadLength, r0, r1, r2, r3, r4, scratch.bytes);
        }
        absorb(h, cipher, cipherOffset, cipherLength, r0, r1, r2, r3, r4, scratch.bytes);
        LE_LONG.set(oneTime, LENGTHS, (long) aadLength);
        LE_LONG.set(oneTime, LENGTHS + 8, (long) cipherLength);
        absorb(h, oneTime, LENGTHS, 16, r0, r1, r2, r3, r4, scratch.bytes);
        finish(h, oneTime, tag, tagOffset);
    }

    /** Absorbs {@code data[offset, +length)} as 16-byte blocks, the last one padded with zeros (in the scratch). */
    private static void absorb(long[] state, byte[] data, int offset, int length, long r0, long r1, long r2, long r3, long r4,
            byte[] scratch) {
        long s1 = r1 * 5, s2 = r2 * 5, s3 = r3 * 5, s4 = r4 * 5;
        long h0 = state[0], h1 = state[1], h2 = state[2], h3 = state[3], h4 = state[4];
        int at = offset;
        int end = offset + length;
        while (at < end) {
            byte[] src = data;
            int p = at;
            if (end - at < 16) { // the zero padding of RFC 8439's AEAD
                java.util.Arrays.fill(scratch, PADDED, PADDED + 16, (byte) 0);
                System.arraycopy(data, at, scratch, PADDED, end - at);
                src = scratch;
                p = PADDED;
            }
            long m0 = (int) LE_INT.get(src, p) & 0xffffffffL;
            long m1 = (int) LE_INT.get(src, p + 4) & 0xffffffffL;
            long m2 = (int) LE_INT.get(src, p + 8) & 0xffffffffL;
            long m3 = (int) LE_INT.get(src, p + 12) & 0xffffffffL;
            h0 += m0 & MASK26;
            h1 += ((m0 >>> 26) | (m1 << 6)) & MASK26;
            h2 += ((m1 >>> 20) | (m2 << 12)) & MASK26;
            h3 += ((m2 >>> 14) | (m3 << 18)) & MASK26;
            h4 += (m3 >>> 8) | (1L << 24);
            long d0 = h0 * r0 + h1 * s4 + h2 * s3 + h3 * s2 + h4 * s1;
            long d1 = h0 * r1 + h1 * r0 + h2 * s4 + h3 * s3 + h4 * s2;
            long d2 = h0 * r2 + h1 * r1 + h2 * r0 + h3 * s4 + h4 * s3;
            long d3 = h0 * r3 + h1 * r2 + h2 * r1 + h3 * r0 + h4 * s4;
            long d4 = h0 * r4 + h1 * r3 + h2 * r2 + h3 * r1 + h4 * r0;
            long c = d0 >>> 26;
            h0 = d0 & MASK26;
            d1 += c;
            c = d1 >>> 26;
            h1 = d1 & MASK26;
            d2 += c;
            c = d2 >>> 26;
            h2 = d2 & MASK26;
            d3 += c;
            c = d3 >>> 26;
            h3 = d3 & MASK26;
            d4 += c;
            c = d4 >>> 26;
            h4 = d4 & MASK26;
            h0 += c * 5;
            c = h0 >>> 26;
            h0 &= MASK26;
            h1 += c;
            at += 16;
        }
        state[0] = h0;
        state[1] = h1;
        state[2] = h2;
        state[3] = h3;
        state[4] = h4;
    }

    /** h mod 2^130 - 5, plus s (the one-time key's second half) mod 2^128, little-endian into {@code tag}. */
    private static void finish(long[] state, byte[] oneTime, byte[] tag, int tagOffset) {
        long h0 = state[0], h1 = state[1], h2 = state[2], h3 = state[3], h4 = state[4];
        long c = h1 >>> 26;
        h1 &= MASK26;
        h2 += c;
        c = h2 >>> 26;
        h2 &= MASK26;
        h3 += c;
        c = h3 >>> 26;
        h3 &= MASK26;
        h4 += c;
        c = h4 >>> 26;
        h4 &= MASK26;
        h0 += c * 5;
        c = h0 >>> 26;
        h0 &= MASK26;
        h1 += c;
        // g = h + 5 - 2^130: taken when it does not borrow, that is when h >= p
        long g0 = h0 + 5;
        c = g0 >>> 26;
        g0 &= MASK26;
        long g1 = h1 + c;
        c = g1 >>> 26;
        g1 &= MASK26;
        long g2 = h2 + c;
        c = g2 >>> 26;
        g2 &= MASK26;
        long g3 = h3 + c;
        c = g3 >>> 26;
        g3 &= MASK26;
        long g4 = h4 + c - (1L << 26);
        long useG = (g4 >>> 63) - 1; // all ones when g4 >= 0
        h0 = (h0 & ~useG) | (g0 & useG);
        h1 = (h1 & ~useG) | (g1 & useG);
        h2 = (h2 & ~useG) | (g2 & useG);
        h3 = (h3 & ~useG) | (g3 & useG);
        h4 = (h4 & ~useG) | (g4 & useG);
        long w0 = (h0 | (h1 << 26)) & 0xffffffffL;
        long w1 = ((h1 >>> 6) | (h2 << 20)) & 0xffffffffL;
        long w2 = ((h2 >>> 12) | (h3 << 14)) & 0xffffffffL;
        long w3 = ((h3 >>> 18) | (h4 << 8)) & 0xffffffffL;
        long f = w0 + ((int) LE_INT.get(oneTime, ONE_TIME_KEY + 16) & 0xffffffffL);
        LE_INT.set(tag, tagOffset, (int) f);
        f = w1 + ((int) LE_INT.get(oneTime, ONE_TIME_KEY + 20) & 0xffffffffL) + (f >>> 32);
        LE_INT.set(tag, tagOffset + 4, (int) f);
        f = w2 + ((int) LE_INT.get(oneTime, ONE_TIME_KEY + 24) & 0xffffffffL) + (f >>> 32);
        LE_INT.set(tag, tagOffset + 8, (int) f);
        f = w3 + ((int) LE_INT.get(oneTime, ONE_TIME_KEY + 28) & 0xffffffffL) + (f >>> 32);
        LE_INT.set(tag, tagOffset + 12, (int) f);
    }
}
