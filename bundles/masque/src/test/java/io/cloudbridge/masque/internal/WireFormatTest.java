package io.cloudbridge.masque.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.masque.internal.Capsules.Capsule;
import io.cloudbridge.masque.internal.Capsules.MalformedCapsuleException;
import io.cloudbridge.masque.internal.IpCapsules.AddressRange;
import io.cloudbridge.masque.internal.IpCapsules.AssignedAddress;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The wire formats against the RFCs' own bytes, built by hand from their figures. */
class WireFormatTest {
    private static final ByteBufAllocator ALLOC = ByteBufAllocator.DEFAULT;

    private static ByteBuf hex(String hex) {
        return Unpooled.wrappedBuffer(HexFormat.of().parseHex(hex.replace(" ", "")));
    }

    private static String hexOf(ByteBuf b) {
        try {
            return ByteBufUtil.hexDump(b);
        } finally {
            b.release();
        }
    }

    /** RFC 9000 appendix A.1's examples, both ways, and the non-shortest encoding of 37. */
    @Test
    void variableLengthIntegersAsRfc9000SampleDecodingShows() {
        Object[][] examples = {
            {"c2197c5eff14e88c", 151_288_809_941_952_652L},
            {"9d7f3e7d", 494_878_333L},
            {"7bbd", 15_293L},
            {"25", 37L},
        };
        for (Object[] e : examples) {
            ByteBuf in = hex((String) e[0]);
            assertEquals((long) e[1], VarInt.read(in), (String) e[0]);
            assertEquals(0, in.readableBytes());
            ByteBuf out = Unpooled.buffer();
            VarInt.write(out, (long) e[1]);
            assertEquals(e[0], hexOf(out));
        }
        assertEquals(37L, VarInt.read(hex("4025")), "two bytes for 37 are read all the same");
        ByteBuf cut = hex("9d7f3e");
        assertEquals(VarInt.INCOMPLETE, VarInt.read(cut));
        assertEquals(0, cut.readerIndex(), "a truncated integer leaves the index where it was");
        assertThrows(IllegalArgumentException.class, () -> VarInt.write(Unpooled.buffer(), 1L << 62));
        assertThrows(IllegalArgumentException.class, () -> VarInt.write(Unpooled.buffer(), -1));
        assertEquals(8, VarInt.size(VarInt.MAX));
    }

    /**
     * RFC 9297 section 3.2: Type (i), Length (i), Value. A DATAGRAM capsule (type 0) holding
     * context id 0 and "hey!", an unknown capsule (type 0x2a, skipped), another DATAGRAM, fed in
     * every split of the byte stream: the same capsules come out each time.
     */
    @Test
    void capsulesComeOutWholeWhereverTheStreamIsCut() throws Exception {
        String stream = "00 05 00 68657921" + " 2a 03 010203" + " 00 02 00 ff";
        byte[] bytes = HexFormat.of().parseHex(stream.replace(" ", ""));
        for (int cut = 0; cut <= bytes.length; cut++) {
            Capsules.Parser parser = new Capsules.Parser(ALLOC, 1500);
            List<Capsule> got = new ArrayList<>(parser.feed(Unpooled.copiedBuffer(bytes, 0, cut)));
            got.addAll(parser.feed(Unpooled.copiedBuffer(bytes, cut, bytes.length - cut)));
            parser.finish();
            assertEquals(2, got.size(), "cut at " + cut);
            assertEquals(Capsules.DATAGRAM, got.get(0).type());
            assertEquals("0068657921", hexOf(got.get(0).value()));
            assertEquals("00ff", hexOf(got.get(1).value()));
            assertEquals(1, parser.skippedCapsules(), "the unknown type was skipped");
        }
        ByteBuf encoded = Capsules.encode(ALLOC, Capsules.DATAGRAM, HttpDatagrams.capsuleValue(ALLOC, hex("68657921")));
        assertEquals("0005" + "0068657921", hexOf(encoded));
    }

    @Test
    void anUnknownCapsuleOfAnyLengthIsSkippedWithoutBufferingIt() throws Exception {
        Capsules.Parser parser = new Capsules.Parser(ALLOC, 1500);
        // Type 0x17 with a length of 2^30 (an 8-byte varint), then a gigabyte that never is buffered.
        assertTrue(parser.feed(hex("17 c000000040000000")).isEmpty());
        byte[] chunk = new byte[64 * 1024];
        for (int i = 0; i < (1 << 30) / chunk.length; i++) {
            assertTrue(parser.feed(Unpooled.wrappedBuffer(chunk)).isEmpty());
        }
        List<Capsule> after = parser.feed(hex("00 01 00"));
        assertEquals(1, after.size(), "the capsule after the skipped one is read");
        after.get(0).value().release();
        parser.finish();
    }

    @Test
    void aKnownCapsuleOverTheBoundOrCutShortIsMalformed() throws Exception {
        Capsules.Parser big = new Capsules.Parser(ALLOC, 1500);
        MalformedCapsuleException tooLong = assertThrows(MalformedCapsuleException.class, () -> big.feed(hex("00 4fff")));
        assertTrue(tooLong.getMessage().contains("at most 1500"), tooLong.getMessage());
        big.release();

        Capsules.Parser cut = new Capsules.Parser(ALLOC, 1500);
        assertTrue(cut.feed(hex("00 05 0068")).isEmpty());
        MalformedCapsuleException truncated = assertThrows(MalformedCapsuleException.class, cut::finish);
        assertTrue(truncated.getMessage().contains("ended inside a capsule"), truncated.getMessage());

        Capsules.Parser header = new Capsules.Parser(ALLOC, 1500);
        assertTrue(header.feed(hex("40")).isEmpty(), "half a two-byte type");
        assertThrows(MalformedCapsuleException.class, header::finish);
    }

    /** RFC 9297 section 2.1 and RFC 9298 section 5: Quarter Stream ID, Context ID, payload. */
    @Test
    void httpDatagramsCarryTheQuarterStreamIdAndContextZero() throws Exception {
        assertEquals("01" + "00" + "cafe", hexOf(HttpDatagrams.quicDatagram(ALLOC, 4, hex("cafe"))));
        assertEquals("4040" + "00" + "cafe", hexOf(HttpDatagrams.quicDatagram(ALLOC, 256, hex("cafe"))), "quarter id 64 takes two bytes");
        assertThrows(IllegalArgumentException.class, () -> HttpDatagrams.quicDatagram(ALLOC, 3, hex("00")));

        HttpDatagrams.Datagram d = HttpDatagrams.parseQuic(hex("4040 00 cafe"));
        assertEquals(256, d.streamId());
        assertEquals(0, d.contextId());
        assertEquals("cafe", ByteBufUtil.hexDump(d.payload()));
        HttpDatagrams.Datagram other = HttpDatagrams.parseQuic(hex("01 2a beef"));
        assertEquals(42, other.contextId(), "an unknown context is reported, for the caller to drop");
        assertNull(HttpDatagrams.parseQuic(hex("01")), "no context id: dropped");
        assertThrows(HttpDatagrams.MalformedDatagramException.class, () -> HttpDatagrams.parseQuic(hex("")), "empty");
        assertThrows(HttpDatagrams.MalformedDatagramException.class, () -> HttpDatagrams.parseQuic(hex("40")),
                "a cut quarter stream id");
    }

    /** RFC 9484 section 4.7.1: Request ID (i), IP Version (8), IP Address, IP Prefix Length (8). */
    @Test
    void addressAssignAsRfc9484LaysItOut() throws Exception {
        List<AssignedAddress> assigned = List.of(
                new AssignedAddress(0, InetAddress.getByName("100.64.0.5"), 32),
                new AssignedAddress(7, InetAddress.getByName("fd00::5"), 128));
        String expected = "00 04 64400005 20" + " 07 06 fd000000000000000000000000000005 80";
        ByteBuf encoded = IpCapsules.encodeAddresses(ALLOC, assigned);
        assertEquals(expected.replace(" ", ""), ByteBufUtil.hexDump(encoded));
        assertEquals(assigned, IpCapsules.decodeAddresses(encoded));
        encoded.release();

        for (String bad : List.of("00 05 64400005 20", "00 04 644000", "00 04 64400005", "00 04 64400005 21", "40")) {
            assertThrows(MalformedCapsuleException.class, () -> IpCapsules.decodeAddresses(hex(bad)), bad);
        }
    }

    /** RFC 9484 section 4.7.3: IP Version (8), Start, End, IP Protocol (8), ordered and not overlapping. */
    @Test
    void routeAdvertisementAsRfc9484LaysItOutAndOrdersIt() throws Exception {
        List<AddressRange> ranges = List.of(
                new AddressRange(InetAddress.getByName("100.64.0.0"), InetAddress.getByName("100.64.63.255"), 0),
                new AddressRange(InetAddress.getByName("fd00::"), InetAddress.getByName("fd00::ffff:ffff:ffff:ffff"), 0));
        String expected = "04 64400000 64403fff 00" + " 06 fd000000000000000000000000000000 fd00000000000000ffffffffffffffff 00";
        ByteBuf encoded = IpCapsules.encodeRoutes(ALLOC, ranges);
        assertEquals(expected.replace(" ", ""), ByteBufUtil.hexDump(encoded));
        assertEquals(ranges, IpCapsules.decodeRoutes(encoded));
        encoded.release();

        Map<String, String> bad = Map.of(
                "IPv6 before IPv4", "06 " + "00".repeat(16) + "ff".repeat(16) + " 00 04 0a000000 0a0000ff 00",
                "overlapping", "04 0a000000 0a0000ff 00 04 0a000080 0a0001ff 00",
                "start above end", "04 0a0000ff 0a000000 00",
                "truncated", "04 0a000000 0a00",
                "no protocol", "04 0a000000 0a0000ff",
                "version 5", "05 0a000000 0a0000ff 00");
        bad.forEach((why, bytes) -> assertThrows(MalformedCapsuleException.class, () -> IpCapsules.decodeRoutes(hex(bytes)), why));
        // Different protocols may cover the same addresses, ordered by protocol.
        assertEquals(2, IpCapsules.decodeRoutes(hex("04 0a000000 0a0000ff 06 04 0a000000 0a0000ff 11")).size());
    }

    @Test
    void theDefaultConnectUdpTemplateMatchesAndDecodes() {
        UriTemplate t = new UriTemplate("/.well-known/masque/udp/{target_host}/{target_port}/");
        assertEquals(Map.of("target_host", "192.0.2.6", "target_port", "443"), t.match("/.well-known/masque/udp/192.0.2.6/443/").orElseThrow());
        assertEquals("2001:db8::42", t.match("/.well-known/masque/udp/2001%3Adb8%3A%3A42/53/").orElseThrow().get("target_host"));
        assertTrue(t.match("/.well-known/masque/ip/*/*/").isEmpty(), "another resource");
        assertTrue(t.match("/.well-known/masque/udp/example.net/53").isEmpty(), "no trailing slash");
        assertThrows(IllegalArgumentException.class, () -> t.match("/.well-known/masque/udp/exa%zzmple/53/"));
        assertThrows(IllegalArgumentException.class, () -> t.match("/.well-known/masque/udp/a%2/53/"));
        String path = t.expand(Map.of("target_host", "2001:db8::42", "target_port", "53"));
        assertEquals("/.well-known/masque/udp/2001%3Adb8%3A%3A42/53/", path);

        UriTemplate query = new UriTemplate("/masque?h={target_host}&p={target_port}");
        assertEquals(Map.of("target_host", "example.net", "target_port", "53"), query.match("/masque?h=example.net&p=53").orElseThrow());
        assertThrows(IllegalArgumentException.class, () -> new UriTemplate("/x/{a}{b}/"));
        assertThrows(IllegalArgumentException.class, () -> new UriTemplate("relative/{a}"));
    }
}
