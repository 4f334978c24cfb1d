package io.cloudbridge.relay.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.Random;
import java.util.zip.CRC32;
import org.junit.jupiter.api.Test;

class StunBindingTest {
    static final InetSocketAddress V4 = new InetSocketAddress("198.51.100.7", 40_001);

    @Test
    void answersABindingWithTheSourceXoredAndAFingerprint() throws Exception {
        byte[] tx = transaction(1);
        StunBinding.Result r = StunBinding.answer(request(tx, false), V4);
        assertEquals(StunBinding.Outcome.ANSWERED, r.outcome());
        ByteBuffer a = r.answer();
        assertEquals(StunBinding.BINDING_SUCCESS, a.getShort(0) & 0xFFFF);
        assertEquals(a.remaining() - 20, a.getShort(2) & 0xFFFF);
        assertEquals(StunBinding.MAGIC_COOKIE, a.getInt(4));
        byte[] echoed = new byte[12];
        a.get(8, echoed);
        assertArrayEquals(tx, echoed);
        assertEquals(V4, mapped(a, tx));
        checkFingerprint(a);
    }

    @Test
    void answersIpv6SourcesAndRequestsWithAFingerprintOfTheirOwn() throws Exception {
        InetSocketAddress v6 = new InetSocketAddress(InetAddress.getByName("2001:db8::42"), 3_478);
        byte[] tx = transaction(2);
        StunBinding.Result r = StunBinding.answer(request(tx, true), v6);
        assertEquals(StunBinding.Outcome.ANSWERED, r.outcome());
        assertEquals(v6, mapped(r.answer(), tx));
    }

    @Test
    void refusesUnknownComprehensionRequiredAttributesNamingThem() {
        byte[] tx = transaction(3);
        // CHANGE-REQUEST (0x0003, RFC 5780) and PRIORITY (0x0024, ICE): neither is the relay's to honour.
        ByteBuffer req = ByteBuffer.allocate(20 + 8 + 8);
        req.putShort((short) 1).putShort((short) 16).putInt(StunBinding.MAGIC_COOKIE).put(tx);
        req.putShort((short) 0x0003).putShort((short) 4).putInt(0x06);
        req.putShort((short) 0x0024).putShort((short) 4).putInt(12345);
        StunBinding.Result r = StunBinding.answer(req.flip(), V4);
        assertEquals(StunBinding.Outcome.REFUSED_UNKNOWN_ATTRIBUTES, r.outcome());
        ByteBuffer a = r.answer();
        assertEquals(StunBinding.BINDING_ERROR, a.getShort(0) & 0xFFFF);
        // ERROR-CODE 420, then UNKNOWN-ATTRIBUTES listing both.
        assertEquals(StunBinding.ERROR_CODE, a.getShort(20) & 0xFFFF);
        assertEquals(4, a.get(26));
        assertEquals(20, a.get(27));
        int at = 24 + ((a.getShort(22) + 3) & ~3);
        assertEquals(StunBinding.UNKNOWN_ATTRIBUTES, a.getShort(at) & 0xFFFF);
        assertEquals(4, a.getShort(at + 2));
        assertEquals(0x0003, a.getShort(at + 4));
        assertEquals(0x0024, a.getShort(at + 6));
        checkFingerprint(a);
    }

    @Test
    void dropsWhatIsNotAWellFormedBindingRequest() {
        byte[] tx = transaction(4);
        ByteBuffer good = request(tx, true);
        assertEquals(StunBinding.Outcome.NOT_STUN, StunBinding.answer(ByteBuffer.allocate(0), V4).outcome());
        assertEquals(StunBinding.Outcome.NOT_STUN, StunBinding.answer(ByteBuffer.wrap(new byte[19]), V4).outcome(), "truncated header");
        ByteBuffer classic = request(tx, false);
        classic.putInt(4, 0x01020304); // RFC 3489 client: no magic cookie
        assertEquals(StunBinding.Outcome.NOT_STUN, StunBinding.answer(classic, V4).outcome());
        ByteBuffer quicLike = request(tx, false);
        quicLike.put(0, (byte) 0xC0);
        assertEquals(StunBinding.Outcome.NOT_STUN, StunBinding.answer(quicLike, V4).outcome(), "top bits set: QUIC, not STUN");
        ByteBuffer cut = good.duplicate().limit(good.limit() - 4);
        assertEquals(StunBinding.Outcome.MALFORMED, StunBinding.answer(cut, V4).outcome(), "length beyond the datagram");
        ByteBuffer odd = ByteBuffer.allocate(22).putShort((short) 1).putShort((short) 2).putInt(StunBinding.MAGIC_COOKIE).put(tx)
                .putShort((short) 0).flip();
        assertEquals(StunBinding.Outcome.MALFORMED, StunBinding.answer(odd, V4).outcome(), "length not a multiple of 4");
        ByteBuffer overrun = ByteBuffer.allocate(28).putShort((short) 1).putShort((short) 8).putInt(StunBinding.MAGIC_COOKIE).put(tx)
                .putShort((short) 0x8022).putShort((short) 200).putInt(0).flip();
        assertEquals(StunBinding.Outcome.MALFORMED, StunBinding.answer(overrun, V4).outcome(), "attribute beyond the message");
        ByteBuffer big = ByteBuffer.allocate(20 + 600).putShort((short) 1).putShort((short) 600).putInt(StunBinding.MAGIC_COOKIE).put(tx)
                .putShort((short) 0x8022).putShort((short) 596).position(620).flip();
        assertEquals(StunBinding.Outcome.MALFORMED, StunBinding.answer(big, V4).outcome(), "oversized");
        ByteBuffer indication = request(tx, false);
        indication.putShort(0, (short) 0x0011);
        assertEquals(StunBinding.Outcome.NOT_A_BINDING_REQUEST, StunBinding.answer(indication, V4).outcome());
        ByteBuffer tampered = request(tx, true);
        tampered.put(tampered.limit() - 1, (byte) (tampered.get(tampered.limit() - 1) ^ 1));
        assertEquals(StunBinding.Outcome.BAD_FINGERPRINT, StunBinding.answer(tampered, V4).outcome());
        ByteBuffer notLast = ByteBuffer.allocate(20 + 8 + 8);
        notLast.putShort((short) 1).putShort((short) 16).putInt(StunBinding.MAGIC_COOKIE).put(tx);
        notLast.putShort((short) StunBinding.FINGERPRINT).putShort((short) 4).putInt(0);
        notLast.putShort((short) 0x8022).putShort((short) 4).putInt(0);
        assertEquals(StunBinding.Outcome.MALFORMED, StunBinding.answer(notLast.flip(), V4).outcome(), "FINGERPRINT not last");
    }

    @Test
    void randomBytesNeverThrowAndOnlyBindingsAreAnswered() {
        Random random = new Random(7);
        int answered = 0;
        for (int i = 0; i < 50_000; i++) {
            byte[] junk = new byte[random.nextInt(700)];
            random.nextBytes(junk);
            if (junk.length >= 8 && random.nextBoolean()) { // often past the first checks
                ByteBuffer.wrap(junk).putShort(0, (short) 1).putShort(2, (short) ((junk.length - 20) & 0xFFFC))
                        .putInt(4, StunBinding.MAGIC_COOKIE);
            }
            StunBinding.Result r = StunBinding.answer(ByteBuffer.wrap(junk), V4);
            if (r.answer() != null) {
                assertEquals(1, ByteBuffer.wrap(junk).getShort(0), "only a Binding request is answered");
                answered++;
            }
        }
        assertTrue(answered > 0, "some random Bindings parse and are answered");
    }

    /** A Binding request with a SOFTWARE attribute, and a FINGERPRINT when asked. */
    static ByteBuffer request(byte[] tx, boolean fingerprint) {
        ByteBuffer b = ByteBuffer.allocate(20 + 12 + (fingerprint ? 8 : 0));
        b.putShort((short) 1).putShort((short) 0).putInt(StunBinding.MAGIC_COOKIE).put(tx);
        b.putShort((short) 0x8022).putShort((short) 7).put("tester!".getBytes()).put((byte) 0);
        b.putShort(2, (short) (b.position() - 20 + (fingerprint ? 8 : 0)));
        if (fingerprint) {
            CRC32 crc = new CRC32();
            crc.update(b.array(), 0, b.position());
            b.putShort((short) StunBinding.FINGERPRINT).putShort((short) 4).putInt((int) crc.getValue() ^ StunBinding.FINGERPRINT_XOR);
        }
        return b.flip();
    }

    static byte[] transaction(int seed) {
        byte[] tx = new byte[12];
        new Random(seed).nextBytes(tx);
        return tx;
    }

    /** Decodes the XOR-MAPPED-ADDRESS of an answer. */
    private static InetSocketAddress mapped(ByteBuffer a, byte[] tx) throws Exception {
        for (int at = 20; at < a.limit(); ) {
            int type = a.getShort(at) & 0xFFFF;
            int len = a.getShort(at + 2) & 0xFFFF;
            if (type == StunBinding.XOR_MAPPED_ADDRESS) {
                int port = (a.getShort(at + 6) & 0xFFFF) ^ (StunBinding.MAGIC_COOKIE >>> 16);
                byte[] mask = ByteBuffer.allocate(16).putInt(StunBinding.MAGIC_COOKIE).put(tx).array();
                byte[] raw = new byte[len - 4];
                for (int i = 0; i < raw.length; i++) {
                    raw[i] = (byte) (a.get(at + 8 + i) ^ mask[i]);
                }
                return new InetSocketAddress(InetAddress.getByAddress(raw), port);
            }
            at += 4 + ((len + 3) & ~3);
        }
        throw new AssertionError("no XOR-MAPPED-ADDRESS");
    }

    private static void checkFingerprint(ByteBuffer a) {
        int end = a.limit() - 8;
        assertEquals(StunBinding.FINGERPRINT, a.getShort(end) & 0xFFFF);
        CRC32 crc = new CRC32();
        byte[] bytes = new byte[end];
        a.get(0, bytes);
        crc.update(bytes);
        assertEquals((int) crc.getValue() ^ StunBinding.FINGERPRINT_XOR, a.getInt(end + 4));
        assertNotNull(a);
    }
}
