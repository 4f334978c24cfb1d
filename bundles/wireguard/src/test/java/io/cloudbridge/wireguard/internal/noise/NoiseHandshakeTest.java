package io.cloudbridge.wireguard.internal.noise;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Arrays;
import javax.crypto.AEADBadTagException;
import org.junit.jupiter.api.Test;

class NoiseHandshakeTest {
    final Identity alice = Identity.generate();
    final Identity bob = Identity.generate();
    final Instant t0 = Instant.parse("2026-11-25T12:00:00Z");

    private Keypair[] handshake(byte[] pskAlice, byte[] pskBob) throws Exception {
        Handshake aliceSide = new Handshake(alice, bob.publicKey(), pskAlice);
        Handshake bobSide = new Handshake(bob, alice.publicKey(), pskBob);
        byte[] initiation = aliceSide.createInitiation(111, t0);
        assertEquals(Messages.INITIATION, Messages.type(initiation, initiation.length));
        assertTrue(new CookieChecker(bob).checkMac1(initiation));
        assertFalse(new CookieChecker(alice).checkMac1(initiation), "MAC1 is bound to the responder's key");
        Handshake.Initiation decrypted = Handshake.decryptInitiation(bob, initiation);
        assertArrayEquals(alice.publicKey(), decrypted.remoteStatic());
        bobSide.acceptInitiation(decrypted, t0);
        Handshake.Response response = bobSide.createResponse(222, t0);
        assertEquals(Messages.RESPONSE, Messages.type(response.message(), response.message().length));
        assertTrue(new CookieChecker(alice).checkMac1(response.message()));
        Keypair aliceKeys = aliceSide.consumeResponse(response.message(), t0);
        return new Keypair[] {aliceKeys, response.keypair()};
    }

    @Test
    void bothSidesDeriveMatchingTransportKeys() throws Exception {
        Keypair[] k = handshake(null, null);
        Keypair a = k[0];
        Keypair b = k[1];
        assertEquals(111, a.localIndex());
        assertEquals(222, a.remoteIndex());
        assertEquals(222, b.localIndex());
        byte[] hello = "hello through the tunnel".getBytes(StandardCharsets.UTF_8);
        byte[] msg = a.seal(hello);
        assertEquals(222, Messages.receiverIndex(msg));
        assertEquals(0, (msg.length - Messages.TRANSPORT_MIN_LENGTH) % 16, "padded to 16");
        byte[] opened = b.open(msg, msg.length);
        assertArrayEquals(hello, Arrays.copyOf(opened, hello.length));
        byte[] back = b.seal(new byte[0]);
        assertEquals(0, a.open(back, back.length).length, "a keepalive");
    }

    @Test
    void aPresharedKeyMustMatch() throws Exception {
        byte[] psk = NoiseCrypto.random(32);
        Keypair[] k = handshake(psk, psk);
        byte[] msg = k[0].seal(new byte[] {1});
        k[1].open(msg, msg.length);
        HandshakeException e = assertThrows(HandshakeException.class, () -> handshake(psk, NoiseCrypto.random(32)));
        assertTrue(e.getMessage().contains("pre-shared"), e.getMessage());
    }

    @Test
    void replayedAndForgedTransportMessagesAreRefused() throws Exception {
        Keypair[] k = handshake(null, null);
        byte[] first = k[0].seal(new byte[] {1});
        byte[] second = k[0].seal(new byte[] {2});
        k[1].open(second, second.length);
        k[1].open(first, first.length); // out of order, inside the window
        assertThrows(Keypair.ReplayException.class, () -> k[1].open(first, first.length));
        byte[] forged = k[0].seal(new byte[] {3});
        forged[forged.length - 1] ^= 1;
        assertThrows(AEADBadTagException.class, () -> k[1].open(forged, forged.length));
    }

    @Test
    void aReplayedInitiationAndAFloodAreRefused() throws Exception {
        Handshake aliceSide = new Handshake(alice, bob.publicKey(), null);
        Handshake bobSide = new Handshake(bob, alice.publicKey(), null);
        byte[] initiation = aliceSide.createInitiation(1, t0);
        bobSide.acceptInitiation(Handshake.decryptInitiation(bob, initiation), t0);
        HandshakeException replay = assertThrows(HandshakeException.class,
                () -> bobSide.acceptInitiation(Handshake.decryptInitiation(bob, initiation), t0.plusSeconds(5)));
        assertTrue(replay.getMessage().contains("replayed"));
        byte[] soon = aliceSide.createInitiation(2, t0.plusSeconds(1));
        // A newer timestamp, but arriving 1 ms after the last one taken.
        Instant justAfter = t0.plusMillis(1);
        assertThrows(HandshakeException.class, () -> bobSide.acceptInitiation(Handshake.decryptInitiation(bob, soon), justAfter));
    }

    @Test
    void changingThePresharedKeyKeepsReplayProtection() throws Exception {
        Handshake aliceSide = new Handshake(alice, bob.publicKey(), null);
        Handshake bobSide = new Handshake(bob, alice.publicKey(), null);
        byte[] initiation = aliceSide.createInitiation(1, t0);
        bobSide.acceptInitiation(Handshake.decryptInitiation(bob, initiation), t0);
        bobSide.setPresharedKey(NoiseCrypto.random(32));
        HandshakeException e = assertThrows(HandshakeException.class,
                () -> bobSide.acceptInitiation(Handshake.decryptInitiation(bob, initiation), t0.plusSeconds(10)));
        assertTrue(e.getMessage().contains("replayed"), e.getMessage());
    }

    @Test
    void aStrangersInitiationDoesNotDecrypt() throws Exception {
        Identity mallory = Identity.generate();
        byte[] initiation = new Handshake(alice, mallory.publicKey(), null).createInitiation(1, t0);
        assertThrows(HandshakeException.class, () -> Handshake.decryptInitiation(bob, initiation));
    }

    @Test
    void cookieRepliesRoundTripAndFeedMac2() throws Exception {
        Handshake aliceSide = new Handshake(alice, bob.publicKey(), null);
        CookieChecker bobChecker = new CookieChecker(bob);
        byte[] source = {10, 0, 0, 1, (byte) 0xca, 0x6c};
        byte[] initiation = aliceSide.createInitiation(7, t0);
        assertFalse(bobChecker.checkMac2(initiation, source, t0), "no cookie yet");
        byte[] reply = bobChecker.createReply(initiation, source, t0);
        assertEquals(Messages.COOKIE_REPLY, Messages.type(reply, reply.length));
        assertEquals(7, Messages.receiverIndex(reply));
        aliceSide.consumeCookieReply(reply, t0);
        byte[] retry = aliceSide.createInitiation(8, t0.plusSeconds(1));
        assertTrue(bobChecker.checkMac2(retry, source, t0.plusSeconds(1)));
        assertFalse(bobChecker.checkMac2(retry, new byte[] {10, 0, 0, 2, (byte) 0xca, 0x6c}, t0.plusSeconds(1)),
                "the cookie is bound to the source address");
        byte[] tampered = reply.clone();
        tampered[40] ^= 1;
        assertThrows(HandshakeException.class, () -> aliceSide.consumeCookieReply(tampered, t0));
    }

    @Test
    void lowOrderPublicKeysAreRefused() {
        assertThrows(java.security.InvalidKeyException.class, () -> new Handshake(alice, new byte[32], null));
    }

    @Test
    void theReplayWindowSlides() {
        ReplayWindow w = new ReplayWindow();
        assertTrue(w.accept(0));
        assertFalse(w.accept(0));
        assertTrue(w.accept(ReplayWindow.WINDOW + 10));
        assertFalse(w.accept(5), "fell out of the window");
        assertTrue(w.accept(ReplayWindow.WINDOW + 9));
        assertTrue(w.accept(100_000));
        assertFalse(w.accept(100_000));
        assertFalse(w.accept(-1L), "beyond REJECT_AFTER_MESSAGES");
    }

    @Test
    void messageTypesNeedTheirExactLengths() {
        byte[] b = new byte[148];
        b[0] = 1;
        assertEquals(1, Messages.type(b, 148));
        assertEquals(-1, Messages.type(b, 147));
        b[1] = 1;
        assertEquals(-1, Messages.type(b, 148), "reserved bytes must be zero");
        assertEquals(-1, Messages.type(new byte[] {4, 0, 0, 0}, 4));
        assertEquals(-1, Messages.type(new byte[] {9, 0, 0, 0}, 4));
    }
}
