package io.cloudbridge.relay.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * Fuzz target for the relay's STUN responder, which answers any UDP datagram from anyone. Every
 * datagram gets an outcome; only a well-formed Binding request gets an answer, and the answer is
 * small (the responder must not amplify) and carries the request's transaction id.
 */
class StunBindingFuzzTest {
    private static final InetSocketAddress V4 = new InetSocketAddress("198.51.100.7", 40_000);
    private static final InetSocketAddress V6 = new InetSocketAddress("2001:db8::7", 40_000);

    @FuzzTest
    void datagram(byte[] data) {
        if (data.length == 0) {
            return;
        }
        // The first byte picks the source's family; the rest is the datagram, read from an offset
        // as the listener's buffers are.
        InetSocketAddress source = (data[0] & 1) == 0 ? V4 : V6;
        ByteBuffer datagram = ByteBuffer.allocate(data.length + 3);
        datagram.position(3);
        datagram.put(data, 1, data.length - 1).flip().position(3);
        StunBinding.Result r = StunBinding.answer(datagram, source);
        assertNotNull(r.outcome());
        assertEquals(3, datagram.position(), "the datagram is read, not consumed");
        boolean answers = r.outcome() == StunBinding.Outcome.ANSWERED
                || r.outcome() == StunBinding.Outcome.REFUSED_UNKNOWN_ATTRIBUTES;
        if (!answers) {
            assertNull(r.answer());
            return;
        }
        byte[] request = Arrays.copyOfRange(data, 1, data.length);
        ByteBuffer answer = r.answer();
        assertTrue(answer.remaining() <= 56 || answer.remaining() <= request.length + 44,
                "no amplification: " + answer.remaining() + " bytes to " + request.length);
        assertEquals(StunBinding.MAGIC_COOKIE, answer.getInt(4));
        assertEquals(answer.remaining() - StunBinding.HEADER, answer.getShort(2) & 0xffff);
        byte[] tid = new byte[12];
        answer.get(8, tid);
        assertArrayEquals(Arrays.copyOfRange(request, 8, 20), tid, "the answer carries the request's transaction id");
        // The answer is itself well-formed STUN, fingerprint included: fed back, it is no request.
        StunBinding.Result echo = StunBinding.answer(answer.duplicate(), source);
        assertEquals(StunBinding.Outcome.NOT_A_BINDING_REQUEST, echo.outcome());
    }
}
