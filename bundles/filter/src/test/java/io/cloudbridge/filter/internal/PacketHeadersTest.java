package io.cloudbridge.filter.internal;

import static io.cloudbridge.filter.internal.Packets.ACK;
import static io.cloudbridge.filter.internal.Packets.DESTINATION_OPTIONS;
import static io.cloudbridge.filter.internal.Packets.FRAGMENT;
import static io.cloudbridge.filter.internal.Packets.HOP_BY_HOP;
import static io.cloudbridge.filter.internal.Packets.NODE4;
import static io.cloudbridge.filter.internal.Packets.NODE6;
import static io.cloudbridge.filter.internal.Packets.PEER4;
import static io.cloudbridge.filter.internal.Packets.PEER6;
import static io.cloudbridge.filter.internal.Packets.ROUTING;
import static io.cloudbridge.filter.internal.Packets.SYN;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Reading the headers of hostile packets: what is there is read, anything else is refused, nothing throws. */
class PacketHeadersTest {

    @Test
    void readsTheAddressesPortsAndFlagsOfIpv4Tcp() {
        PacketHeaders h = read(Packets.tcp(PEER4, 40_000, NODE4, 22, SYN));
        assertEquals(4, h.version);
        assertEquals(PacketHeaders.TCP, h.protocol);
        assertEquals(0x64400002L, h.sourceLow);
        assertEquals(0x64400001L, h.destinationLow);
        assertEquals(40_000, h.sourcePort);
        assertEquals(22, h.destinationPort);
        assertEquals(SYN, h.tcpFlags);
        assertFalse(h.laterFragment);
    }

    @Test
    void honoursTheIpv4HeaderLengthAndIgnoresLinkPaddingAfterTheTotalLength() {
        byte[] withOptions = Packets.ipv4WithOptions(PEER4, NODE4, 3, PacketHeaders.UDP, Packets.udpDatagram(5353, 53, 4));
        PacketHeaders h = read(withOptions);
        assertEquals(5353, h.sourcePort, "the ports after 12 bytes of options");
        assertEquals(53, h.destinationPort);

        byte[] padded = ByteBuffer.allocate(withOptions.length + 10).put(withOptions).array();
        assertEquals(withOptions.length, read(padded).end, "the packet ends where its total length says");
    }

    @Test
    void readsIpv6ThroughEveryKindOfExtensionHeader() {
        byte[] p = Packets.ipv6WithExtensions(PEER6, NODE6, new int[] {HOP_BY_HOP, ROUTING, FRAGMENT, DESTINATION_OPTIONS},
                PacketHeaders.TCP, Packets.tcpHeader(50_000, 443, SYN | ACK));
        PacketHeaders h = read(p);
        assertEquals(6, h.version);
        assertEquals(PacketHeaders.TCP, h.protocol);
        assertEquals(0xfd7a115ca1e00000L, h.sourceHigh);
        assertEquals(2, h.sourceLow);
        assertEquals(1, h.destinationLow);
        assertEquals(50_000, h.sourcePort);
        assertEquals(443, h.destinationPort);
        assertEquals(SYN | ACK, h.tcpFlags);
        assertFalse(h.laterFragment, "a fragment header at offset 0 is a first fragment: filtered by its ports");
    }

    @Test
    void aHeaderChainLongerThanEightOrRunningPastThePacketIsRefused() {
        int[] eight = {HOP_BY_HOP, DESTINATION_OPTIONS, ROUTING, ROUTING, ROUTING, ROUTING, ROUTING, DESTINATION_OPTIONS};
        assertTrue(headers(Packets.ipv6WithExtensions(PEER6, NODE6, eight, PacketHeaders.UDP, Packets.udpDatagram(1, 2, 0))));
        int[] nine = {HOP_BY_HOP, DESTINATION_OPTIONS, ROUTING, ROUTING, ROUTING, ROUTING, ROUTING, ROUTING, DESTINATION_OPTIONS};
        assertFalse(headers(Packets.ipv6WithExtensions(PEER6, NODE6, nine, PacketHeaders.UDP, Packets.udpDatagram(1, 2, 0))));

        byte[] overlong = Packets.ipv6WithExtensions(PEER6, NODE6, new int[] {HOP_BY_HOP}, PacketHeaders.UDP, Packets.udpDatagram(1, 2, 0));
        overlong[41] = 2; // the hop-by-hop header claims 24 bytes; the packet has 16 after the fixed header
        assertFalse(headers(overlong));
    }

    @Test
    void nonFirstFragmentsHaveNoPortsAndFragmentTricksAreRefused() {
        PacketHeaders v4 = read(Packets.ipv4Fragment(PEER4, NODE4, PacketHeaders.UDP, 185, false, new byte[100]));
        assertTrue(v4.laterFragment);
        assertEquals(0, v4.destinationPort);
        PacketHeaders v6 = read(Packets.ipv6Fragment(PEER6, NODE6, PacketHeaders.TCP, 181, new byte[100]));
        assertTrue(v6.laterFragment);
        assertEquals(PacketHeaders.TCP, v6.protocol);

        assertFalse(headers(Packets.ipv4Fragment(PEER4, NODE4, PacketHeaders.TCP, 1, true, new byte[40])),
                "RFC 1858: a TCP fragment at offset 8 could only be there to rewrite the first one's flags");
        assertFalse(headers(Packets.ipv4Fragment(PEER4, NODE4, PacketHeaders.TCP, 0, true, new byte[8])),
                "a first fragment too short for the TCP header it claims to start");
        assertFalse(headers(Packets.ipv6WithExtensions(PEER6, NODE6, new int[] {FRAGMENT}, PacketHeaders.UDP, new byte[4])),
                "RFC 7112: an IPv6 first fragment carries the whole header chain");
    }

    @Test
    void readsIcmpEchoAndTheQuoteOfAnError() {
        PacketHeaders echo = read(Packets.echo(PEER6, NODE6, true, 0x4242));
        assertTrue(echo.isEchoRequest());
        assertEquals(0x4242, echo.icmpId);

        byte[] sent = Packets.udp(NODE4, 33_000, PEER4, 4789);
        byte[] error = Packets.icmpError(PEER4, NODE4, 3, 4, 1280, sent);
        PacketHeaders h = read(error);
        assertTrue(h.isIcmpError());
        assertEquals(4, h.icmpCode);
        PacketHeaders quoted = new PacketHeaders();
        assertTrue(quoted.readQuoted(error, h.quoteOffset, h.end - h.quoteOffset));
        assertEquals(33_000, quoted.sourcePort);
        assertEquals(4789, quoted.destinationPort);
        assertEquals(0x64400002L, quoted.destinationLow);
    }

    @Test
    void everyTruncationOfEveryKindOfPacketIsRefusedWithoutThrowing() {
        for (byte[] packet : samples()) {
            for (int length = 0; length < packet.length; length++) {
                assertFalse(headers(Packets.copy(packet, length)), "cut to " + length + " of " + packet.length);
            }
            assertTrue(headers(packet));
        }
    }

    @Test
    void readsAPacketWhereverItIsInTheArrayAndNeverOutsideIt() {
        byte[] p = Packets.tcp(PEER4, 40_000, NODE4, 22, SYN);
        byte[] within = new byte[p.length + 20];
        System.arraycopy(p, 0, within, 7, p.length);
        PacketHeaders h = new PacketHeaders();
        assertTrue(h.read(within, 7, p.length));
        assertEquals(22, h.destinationPort);

        assertFalse(new PacketHeaders().read(within, 7, within.length), "a length past the array's end");
        assertFalse(new PacketHeaders().read(within, -1, p.length));
        assertFalse(new PacketHeaders().read(within, Integer.MAX_VALUE, 10), "no overflow into a good-looking range");
        assertFalse(new PacketHeaders().read(null, 0, 0));
    }

    @Test
    void randomBytesAndRandomCorruptionsNeverThrow() {
        Random random = new Random(7);
        for (int i = 0; i < 20_000; i++) {
            byte[] p = new byte[random.nextInt(120)];
            random.nextBytes(p);
            if (p.length > 0) {
                p[0] = (byte) ((random.nextBoolean() ? 0x40 : 0x60) | (p[0] & 0x0f));
            }
            new PacketHeaders().read(p, 0, p.length);
            new PacketHeaders().readQuoted(p, 0, p.length);
        }
        for (byte[] sample : samples()) {
            for (int i = 0; i < 5_000; i++) {
                byte[] p = sample.clone();
                p[random.nextInt(p.length)] = (byte) random.nextInt(256);
                PacketHeaders h = new PacketHeaders();
                if (h.read(p, 0, p.length) && h.isIcmpError()) {
                    new PacketHeaders().readQuoted(p, h.quoteOffset, h.end - h.quoteOffset);
                }
            }
        }
    }

    /** One packet of each kind the filter reads. */
    static List<byte[]> samples() {
        byte[] sent = Packets.tcp(NODE6, 40_000, PEER6, 443, SYN);
        return List.of(
                Packets.tcp(PEER4, 40_000, NODE4, 22, SYN),
                Packets.udp(PEER4, 5353, NODE4, 53),
                Packets.echo(PEER4, NODE4, true, 7),
                Packets.ipv4WithOptions(PEER4, NODE4, 2, PacketHeaders.TCP, Packets.tcpHeader(1, 2, ACK)),
                Packets.tcp(PEER6, 40_000, NODE6, 22, SYN),
                Packets.echo(PEER6, NODE6, false, 9),
                Packets.ipv6WithExtensions(PEER6, NODE6, new int[] {HOP_BY_HOP, ROUTING, FRAGMENT}, PacketHeaders.UDP,
                        Packets.udpDatagram(1, 2, 0)),
                Packets.icmpError(PEER6, NODE6, 2, 0, 1280, sent),
                Packets.icmpError(PEER4, NODE4, 11, 0, 0, Packets.udp(NODE4, 9, PEER4, 10)));
    }

    private static PacketHeaders read(byte[] packet) {
        PacketHeaders h = new PacketHeaders();
        assertTrue(h.read(packet, 0, packet.length), "readable");
        return h;
    }

    private static boolean headers(byte[] packet) {
        return new PacketHeaders().read(packet, 0, packet.length);
    }
}
