package io.cloudbridge.ice.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * Fuzz targets for what reaches a node's NAT traversal from outside: STUN and TURN datagrams on
 * the shared UDP socket (any host can send them) and ICE offers relayed from a peer through
 * signalling (a peer of the same tenant, not trusted with more than its own offer).
 */
class IceWireFuzzTest {

    @FuzzTest
    void stunDatagram(byte[] data) {
        ByteBuffer datagram = ByteBuffer.wrap(data);
        boolean stun = IceWire.isStun(datagram);
        boolean channelData = IceWire.isChannelData(datagram);
        assertFalse(stun && channelData, "RFC 7983: one datagram is one protocol");
        assertEquals(0, datagram.position());
        if (!stun) {
            return;
        }
        IceWire.Received r = IceWire.decode(datagram);
        assertEquals(0, datagram.position(), "decoding reads a copy");
        if (r != null) {
            assertNotNull(r.message());
            assertEquals(data.length, r.raw().length);
            // A check's integrity is verified against the raw bytes: never an exception, whatever they hold.
            r.signedWith("a-password-of-22-chars");
            // What the engine reads of a check, an answer or a TURN message: each accessor copes
            // with a missing or odd attribute.
            r.isRequest();
            r.isTurn();
            r.type();
            r.isSuccess();
            r.isError();
            r.errorCode();
            r.errorReason();
            r.realm();
            r.nonce();
            r.lifetime();
            r.relayed();
            r.peer();
            r.data();
            r.username();
            r.priority();
            r.nominates();
            r.mapped();
        }
    }

    @FuzzTest
    void offer(byte[] data) {
        IceOffer offer;
        try {
            offer = IceOffer.decode(data);
        } catch (IllegalArgumentException e) {
            assertNotNull(e.getMessage());
            return;
        }
        assertTrue(offer.candidates().size() <= IceOffer.MAX_CANDIDATES);
        // Round trip: what was accepted re-encodes to an offer that decodes to the same.
        assertEquals(offer, IceOffer.decode(offer.encode()));
        assertTrue(new String(offer.encode(), StandardCharsets.UTF_8).lines().count() >= 3);
    }
}
