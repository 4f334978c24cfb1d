package io.cloudbridge.ice.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import org.ice4j.Transport;
import org.ice4j.TransportAddress;
import org.ice4j.attribute.Attribute;
import org.ice4j.attribute.MessageIntegrityAttribute;
import org.ice4j.message.Request;
import org.ice4j.security.CredentialsAuthority;
import org.ice4j.stack.RawMessage;
import org.ice4j.stack.StunStack;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The checks' wire format, cross-checked with ice4j's own integrity verification, and junk. */
class IceWireTest {
    private static final String BOB_PASSWORD = "bobs-password-is-22-chars";
    private final IceWire wire = new IceWire();

    @AfterEach
    void close() {
        wire.close();
    }

    @Test
    void aCheckCarriesWhatRfc8445AsksAndIce4jAcceptsItsIntegrity() throws Exception {
        byte[] tid = new byte[12];
        new Random(1).nextBytes(tid);
        byte[] check = wire.check(tid, "bob:alice", BOB_PASSWORD, 1_862_270_975L, true, 42, true);
        assertTrue(IceWire.isStun(ByteBuffer.wrap(check)));
        IceWire.Received m = IceWire.decode(ByteBuffer.wrap(check));
        assertNotNull(m);
        assertTrue(m.isRequest());
        assertEquals("bob:alice", m.username());
        assertEquals(1_862_270_975L, m.priority());
        assertTrue(m.nominates());
        assertNotNull(m.message().getAttribute(Attribute.ICE_CONTROLLING));
        assertTrue(m.signedWith(BOB_PASSWORD));
        assertFalse(m.signedWith("someone-elses-password!"));

        // ice4j's verifier, as bob's stack would run it (the username's first part names bob's key).
        StunStack bob = new StunStack();
        try {
            bob.getCredentialsManager().registerAuthority(new CredentialsAuthority() {
                @Override
                public byte[] getLocalKey(String username) {
                    return "bob".equals(username) ? BOB_PASSWORD.getBytes(StandardCharsets.UTF_8) : null;
                }

                @Override
                public byte[] getRemoteKey(String username, String media) {
                    return null;
                }

                @Override
                public boolean checkLocalUserName(String username) {
                    return "bob".equals(username);
                }
            });
            TransportAddress any = new TransportAddress("192.0.2.1", 1, Transport.UDP);
            assertTrue(bob.validateMessageIntegrity((MessageIntegrityAttribute) m.message().getAttribute(Attribute.MESSAGE_INTEGRITY),
                    "bob:alice", true, RawMessage.build(check, check.length, any, any)));
        } finally {
            bob.shutDown();
        }
    }

    @Test
    void anAnswerTellsTheSourceAndIsSignedWithTheAnswerersPassword() throws Exception {
        byte[] tid = new byte[12];
        new Random(2).nextBytes(tid);
        Request check = (Request) IceWire.decode(ByteBuffer.wrap(wire.check(tid, "bob:alice", BOB_PASSWORD, 1, false, 7, false))).message();
        InetSocketAddress source = new InetSocketAddress(InetAddress.getByName("198.51.100.9"), 40_001);
        byte[] answer = wire.success(check, source, "bob", BOB_PASSWORD);
        IceWire.Received m = IceWire.decode(ByteBuffer.wrap(answer));
        assertTrue(m.isSuccess());
        assertArrayEquals(tid, m.message().getTransactionID());
        assertEquals(source, m.mapped());
        assertTrue(m.signedWith(BOB_PASSWORD));
    }

    @Test
    void tamperedTruncatedAndJunkDatagramsAreRefusedWithoutAnException() {
        byte[] tid = new byte[12];
        byte[] check = wire.check(tid, "bob:alice", BOB_PASSWORD, 1, true, 1, false);
        byte[] tampered = check.clone();
        tampered[30] ^= 1; // inside USERNAME: FINGERPRINT or MESSAGE-INTEGRITY must catch it
        IceWire.Received t = IceWire.decode(ByteBuffer.wrap(tampered));
        assertTrue(t == null || !t.signedWith(BOB_PASSWORD));
        for (int cut = 20; cut < check.length; cut += 4) {
            byte[] truncated = java.util.Arrays.copyOf(check, cut);
            IceWire.Received r = IceWire.decode(ByteBuffer.wrap(truncated));
            assertTrue(r == null || !r.signedWith(BOB_PASSWORD), "cut at " + cut);
        }
        assertFalse(IceWire.isStun(ByteBuffer.wrap(new byte[19])));
        assertFalse(IceWire.isStun(ByteBuffer.wrap(new byte[IceWire.MAX_MESSAGE + 1])));
        Random random = new Random(3);
        for (int i = 0; i < 20_000; i++) {
            byte[] junk = new byte[20 + random.nextInt(200)];
            random.nextBytes(junk);
            ByteBuffer b = ByteBuffer.wrap(junk);
            b.putInt(4, IceWire.MAGIC_COOKIE);
            junk[0] &= 0x3f;
            if (random.nextBoolean()) { // a length that matches, so that the attribute decoder sees the junk
                int len = (junk.length - 20) & ~3;
                junk = java.util.Arrays.copyOf(junk, 20 + len);
                junk[2] = (byte) (len >> 8);
                junk[3] = (byte) len;
            }
            IceWire.Received r = IceWire.decode(ByteBuffer.wrap(junk));
            if (r != null) {
                assertFalse(r.signedWith(BOB_PASSWORD));
            }
        }
        assertNull(IceWire.decode(ByteBuffer.wrap(new byte[] {0, 1, 0, 4, 0x21, 0x12, (byte) 0xA4, 0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})));
    }
}
