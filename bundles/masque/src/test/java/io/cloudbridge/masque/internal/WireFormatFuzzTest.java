package io.cloudbridge.masque.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledByteBufAllocator;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Fuzz targets for the MASQUE codecs, which read bytes a client or a proxy sent: QUIC
 * variable-length integers, the Capsule Protocol's stream parser, HTTP Datagrams, CONNECT-IP's
 * capsule payloads, the IP header the gateway decides by, and the URI template a request's path
 * is matched against. Each must return a well-formed value or its own checked exception (or null
 * where it documents one); anything else escaping is a finding. Seeds: {@code WireFormatFuzzTestInputs}.
 */
class WireFormatFuzzTest {
    private static final ByteBufAllocator ALLOC = UnpooledByteBufAllocator.DEFAULT;
    /** What a CONNECT-IP stream takes by default: the parser's bound on a known capsule. */
    private static final int MAX_KNOWN = 1_500;

    @FuzzTest
    void varInt(byte[] data) {
        ByteBuf in = Unpooled.wrappedBuffer(data);
        while (true) {
            int before = in.readerIndex();
            long value = VarInt.read(in);
            if (value == VarInt.INCOMPLETE) {
                assertEquals(before, in.readerIndex(), "an incomplete integer leaves the index");
                assertTrue(data.length == before || VarInt.sizeOf(data[before]) > data.length - before);
                return;
            }
            assertTrue(value >= 0 && value <= VarInt.MAX, "value in range: " + value);
            assertEquals(VarInt.sizeOf(data[before]), in.readerIndex() - before);
            ByteBuf out = Unpooled.buffer(8);
            VarInt.write(out, value);
            assertTrue(out.readableBytes() <= in.readerIndex() - before, "the shortest form is never longer");
            assertEquals(value, VarInt.read(out), "round trip");
        }
    }

    @FuzzTest
    void capsuleStream(byte[] data) {
        if (data.length == 0) {
            return;
        }
        Capsules.Parser parser = new Capsules.Parser(ALLOC, MAX_KNOWN);
        List<ByteBuf> fed = new ArrayList<>();
        List<Capsules.Capsule> capsules = new ArrayList<>();
        // The stream arrives in DATA frames of any size (the first byte picks it, 0: one empty
        // frame between each): a capsule may straddle them.
        int frameSize = data[0] & 0x3f;
        try {
            for (int at = 1; at < data.length; at += Math.max(frameSize, 1)) {
                int n = Math.min(frameSize, data.length - at);
                ByteBuf frame = frame(data, at, n);
                fed.add(frame);
                capsules.addAll(parser.feed(frame));
                if (n == 0) {
                    ByteBuf one = frame(data, at, 1);
                    fed.add(one);
                    capsules.addAll(parser.feed(one));
                }
            }
            parser.finish();
        } catch (Capsules.MalformedCapsuleException e) {
            assertNotNull(e.getMessage());
            parser.release();
        }
        for (ByteBuf b : fed) {
            assertEquals(0, b.refCnt(), "every DATA payload is released");
        }
        for (Capsules.Capsule c : capsules) {
            assertTrue(c.type() >= 0 && c.type() <= 3, "only known types are returned: " + c.type());
            assertTrue(c.value().readableBytes() <= MAX_KNOWN);
            // Round trip: the capsule re-encoded parses back to itself.
            byte[] value = ByteBufUtil.getBytes(c.value());
            Capsules.Parser again = new Capsules.Parser(ALLOC, MAX_KNOWN);
            List<Capsules.Capsule> back;
            try {
                back = again.feed(Capsules.encode(ALLOC, c.type(), c.value()));
                again.finish();
            } catch (Capsules.MalformedCapsuleException e) {
                throw new AssertionError("a capsule the parser returned does not parse again", e);
            }
            assertEquals(1, back.size());
            assertEquals(c.type(), back.get(0).type());
            assertArrayEquals(value, ByteBufUtil.getBytes(back.get(0).value()));
            back.get(0).value().release();
        }
    }

    /** A buffer of its own even when empty (Unpooled's empty buffer ignores release, so a leak would not show). */
    private static ByteBuf frame(byte[] data, int at, int n) {
        return new io.netty.buffer.UnpooledHeapByteBuf(ALLOC, n, n).writeBytes(data, at, n);
    }

    @FuzzTest
    void httpDatagram(byte[] data) {
        HttpDatagrams.Datagram d;
        try {
            d = HttpDatagrams.parseQuic(Unpooled.wrappedBuffer(data));
        } catch (HttpDatagrams.MalformedDatagramException e) {
            // RFC 9297 2.1: a Quarter Stream ID absent, cut short or above 2^60 - 1 is a connection error.
            long quarter = VarInt.read(Unpooled.wrappedBuffer(data));
            assertTrue(quarter == VarInt.INCOMPLETE || quarter > HttpDatagrams.MAX_QUARTER_STREAM_ID,
                    "a valid Quarter Stream ID was refused: " + quarter);
            return;
        }
        if (d == null) {
            return; // no Context ID: dropped
        }
        assertEquals(0, d.streamId() & 3, "a client-initiated bidirectional stream");
        assertTrue(d.streamId() >= 0 && d.streamId() <= VarInt.MAX, "a stream id QUIC can have: " + d.streamId());
        assertTrue(d.contextId() >= 0 && d.contextId() <= VarInt.MAX);
        if (d.contextId() == HttpDatagrams.PAYLOAD_CONTEXT) {
            byte[] payload = ByteBufUtil.getBytes(d.payload());
            ByteBuf again = HttpDatagrams.quicDatagram(ALLOC, d.streamId(), Unpooled.wrappedBuffer(payload));
            try {
                HttpDatagrams.Datagram back = HttpDatagrams.parseQuic(again);
                assertEquals(d.streamId(), back.streamId());
                assertArrayEquals(payload, ByteBufUtil.getBytes(back.payload()));
            } catch (HttpDatagrams.MalformedDatagramException e) {
                throw new AssertionError("re-encoded datagram does not parse", e);
            } finally {
                again.release();
            }
        }
        HttpDatagrams.Datagram capsule = HttpDatagrams.parseCapsuleValue(4, Unpooled.wrappedBuffer(data));
        assertTrue(capsule == null ? data.length == 0 : capsule.streamId() == 4);
    }

    @FuzzTest
    void addressCapsule(byte[] data) {
        List<IpCapsules.AssignedAddress> addresses;
        try {
            addresses = IpCapsules.decodeAddresses(Unpooled.wrappedBuffer(data));
        } catch (Capsules.MalformedCapsuleException e) {
            assertNotNull(e.getMessage());
            return;
        }
        ByteBuf encoded = IpCapsules.encodeAddresses(ALLOC, addresses);
        try {
            assertEquals(addresses, IpCapsules.decodeAddresses(encoded), "round trip");
        } catch (Capsules.MalformedCapsuleException e) {
            throw new AssertionError("re-encoded addresses do not parse", e);
        } finally {
            // Released: a 10-minute run once ran out of direct memory on the encodings it kept.
            encoded.release();
        }
    }

    @FuzzTest
    void routeCapsule(byte[] data) {
        List<IpCapsules.AddressRange> ranges;
        try {
            ranges = IpCapsules.decodeRoutes(Unpooled.wrappedBuffer(data));
        } catch (Capsules.MalformedCapsuleException e) {
            assertNotNull(e.getMessage());
            return;
        }
        ByteBuf encoded = IpCapsules.encodeRoutes(ALLOC, ranges);
        try {
            assertArrayEquals(data, ByteBufUtil.getBytes(encoded), "a valid payload re-encodes to itself");
        } finally {
            encoded.release();
        }
    }

    @FuzzTest
    void ipHeader(byte[] data) {
        String[] why = new String[1];
        ByteBuf packet = Unpooled.wrappedBuffer(data);
        IpHeader h = IpHeader.parse(packet, why);
        assertEquals(0, packet.readerIndex(), "the packet is left unread");
        if (h == null) {
            assertNotNull(why[0], "a refusal names its reason");
            return;
        }
        assertTrue(h.version() == 4 || h.version() == 6);
        assertEquals(h.version() == 4 ? 4 : 16, h.source().getAddress().length);
        assertEquals(h.source().getAddress().length, h.destination().getAddress().length);
    }

    private static final UriTemplate UDP = new UriTemplate("/.well-known/masque/udp/{target_host}/{target_port}/");

    @FuzzTest
    void requestPath(byte[] data) {
        String path = new String(data, java.nio.charset.StandardCharsets.UTF_8);
        Optional<Map<String, String>> values;
        try {
            values = UDP.match(path);
        } catch (IllegalArgumentException e) {
            assertNotNull(e.getMessage(), "a bad percent-encoding is refused with a reason");
            return;
        }
        if (values.isEmpty()) {
            return;
        }
        // RFC 3986: a path is ASCII; what matched must expand back to the same values.
        assertTrue(path.chars().allMatch(c -> c > 0x20 && c < 0x7f), "a matched path is printable ASCII");
        assertEquals(values, UDP.match(UDP.expand(values.get())), "expand then match is the identity");
    }
}
