package io.cloudbridge.wireguard.internal.noise;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Random;
import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.Test;

/** The engine's own ChaCha20-Poly1305: RFC 8439's vectors, and the JDK's cipher on random inputs. */
class ChaCha20Poly1305Test {
    private static final HexFormat HEX = HexFormat.of();

    /** RFC 8439 section 2.3.2: the ChaCha20 block function. */
    @Test
    void theBlockFunctionMatchesTheRfc() {
        byte[] key = new byte[32];
        for (int i = 0; i < 32; i++) {
            key[i] = (byte) i;
        }
        byte[] block = new byte[64];
        // nonce 00:00:00:09:00:00:00:4a:00:00:00:00 as little-endian words
        ChaCha20Poly1305.block(ChaCha20Poly1305.key(key), 1, 0x09000000, 0x4a000000, 0, block, 0);
        assertEquals("10f1e7e4d13b5915500fdd1fa32071c4", HEX.formatHex(block, 0, 16));
    }

    /** RFC 8439 section 2.8.2: the AEAD, with additional data. */
    @Test
    void theAeadMatchesTheRfc() throws Exception {
        byte[] plaintext = ("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future,"
                + " sunscreen would be it.").getBytes(StandardCharsets.US_ASCII);
        byte[] aad = HEX.parseHex("50515253c0c1c2c3c4c5c6c7");
        byte[] key = HEX.parseHex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
        int[] k = ChaCha20Poly1305.key(key);
        // nonce 07:00:00:00:40:41:42:43:44:45:46:47
        int n0 = 7, n1 = 0x43424140, n2 = 0x47464544;
        byte[] sealed = new byte[plaintext.length + 16];
        assertEquals(sealed.length, ChaCha20Poly1305.seal(k, n0, n1, n2, aad, 0, aad.length, plaintext, 0, plaintext.length, sealed, 0));
        String expected = "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b"
                + "1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
                + "3ff4def08e4b7a9de576d26586cec64b6116" + "1ae10b594f09e26a7e902ecbd0600691";
        assertEquals(expected, HEX.formatHex(sealed));
        byte[] opened = new byte[plaintext.length];
        assertEquals(plaintext.length, ChaCha20Poly1305.open(k, n0, n1, n2, aad, 0, aad.length, sealed, 0, sealed.length, opened, 0));
        assertArrayEquals(plaintext, opened);
    }

    /** Every length from 0 to 1500 (WireGuard's: no additional data, the counter nonce), against the JDK both ways. */
    @Test
    void agreesWithTheJdkOnEveryLengthUpToAPacket() throws Exception {
        Random random = new Random(8439);
        Cipher jdk = Cipher.getInstance("ChaCha20-Poly1305");
        for (int length = 0; length <= 1500; length++) {
            byte[] key = new byte[32];
            random.nextBytes(key);
            long counter = random.nextLong();
            byte[] plaintext = new byte[length];
            random.nextBytes(plaintext);
            int[] k = ChaCha20Poly1305.key(key);
            int n1 = (int) counter, n2 = (int) (counter >>> 32);
            byte[] ours = new byte[7 + length + 16]; // at an offset, as the engine seals after its header
            ChaCha20Poly1305.seal(k, 0, n1, n2, new byte[0], 0, 0, plaintext, 0, length, ours, 7);
            byte[] nonce = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN).putInt(0).putLong(counter).array();
            jdk.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(key, "ChaCha20"), new IvParameterSpec(nonce));
            byte[] theirs = jdk.doFinal(plaintext);
            assertArrayEquals(theirs, Arrays.copyOfRange(ours, 7, ours.length), "length " + length);
            byte[] opened = new byte[length + 3];
            assertEquals(length, ChaCha20Poly1305.open(k, 0, n1, n2, new byte[0], 0, 0, theirs, 0, theirs.length, opened, 3));
            assertArrayEquals(plaintext, Arrays.copyOfRange(opened, 3, 3 + length), "length " + length);
        }
    }

    @Test
    void aChangedByteOrTagOrKeyIsRefusedAndNothingIsWritten() {
        Random random = new Random(7);
        byte[] key = new byte[32];
        random.nextBytes(key);
        int[] k = ChaCha20Poly1305.key(key);
        byte[] plaintext = new byte[1420];
        random.nextBytes(plaintext);
        byte[] sealed = new byte[1436];
        ChaCha20Poly1305.seal(k, 0, 42, 0, new byte[0], 0, 0, plaintext, 0, plaintext.length, sealed, 0);
        for (int at : new int[] {0, 700, 1419, 1420, 1435}) {
            byte[] changed = sealed.clone();
            changed[at] ^= 1;
            byte[] out = new byte[1420];
            assertThrows(AEADBadTagException.class,
                    () -> ChaCha20Poly1305.open(k, 0, 42, 0, new byte[0], 0, 0, changed, 0, changed.length, out, 0));
            assertArrayEquals(new byte[1420], out, "nothing written for a change at " + at);
        }
        assertThrows(AEADBadTagException.class, () -> ChaCha20Poly1305.open(k, 0, 43, 0, new byte[0], 0, 0, sealed, 0, sealed.length,
                new byte[1420], 0));
        assertThrows(AEADBadTagException.class, () -> ChaCha20Poly1305.open(k, 0, 42, 0, new byte[0], 0, 0, sealed, 0, 15,
                new byte[16], 0));
    }
}
