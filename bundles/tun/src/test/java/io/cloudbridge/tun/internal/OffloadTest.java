package io.cloudbridge.tun.internal;

import io.cloudbridge.api.net.PacketBatch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Segmentation of the kernel's offloaded TCP bursts and the joining of received segments back into
 * one frame: every segment must carry correct checksums, and splitting then joining must give back
 * the burst the kernel handed over.
 */
class OffloadTest {
    private static final int H = SegmentationOffload.VIRTIO_HEADER_LENGTH;
    private static final int TIMESTAMPS = 12; // NOP NOP TS(10): what Linux sends on every segment

    /** A TCP packet of {@code payload} bytes, its checksum complete. */
    static byte[] tcpPacket(int version, long seq, int flags, byte[] payload) {
        int ip = version == 4 ? 20 : 40;
        int tcp = 20 + TIMESTAMPS;
        byte[] p = new byte[ip + tcp + payload.length];
        if (version == 4) {
            p[0] = 0x45;
            InternetChecksum.writeShort(p, 2, p.length);
            InternetChecksum.writeShort(p, 4, 0x1234);
            p[6] = 0x40; // don't fragment
            p[8] = 64;
            p[9] = 6;
            System.arraycopy(new byte[] {10, 0, 0, 1, 10, 0, 0, 2}, 0, p, 12, 8);
            InternetChecksum.fixIpv4HeaderChecksum(p, 0);
        } else {
            p[0] = 0x60;
            InternetChecksum.writeShort(p, 4, p.length - 40);
            p[6] = 6;
            p[7] = 64;
            p[8] = (byte) 0xfd;
            p[23] = 1;
            p[24] = (byte) 0xfd;
            p[39] = 2;
        }
        InternetChecksum.writeShort(p, ip, 40000);
        InternetChecksum.writeShort(p, ip + 2, 5201);
        SegmentationOffload.writeInt(p, ip + 4, seq);
        SegmentationOffload.writeInt(p, ip + 8, 777);
        p[ip + 12] = (byte) ((tcp / 4) << 4);
        p[ip + 13] = (byte) flags;
        InternetChecksum.writeShort(p, ip + 14, 501);
        p[ip + 20] = 1;
        p[ip + 21] = 1;
        p[ip + 22] = 8;
        p[ip + 23] = 10;
        SegmentationOffload.writeInt(p, ip + 24, 0xCAFE);
        System.arraycopy(payload, 0, p, ip + tcp, payload.length);
        long sum = InternetChecksum.pseudoHeader(p, 0, 6, p.length - ip);
        InternetChecksum.writeShort(p, ip + 16, InternetChecksum.finish(InternetChecksum.add(sum, p, ip, p.length - ip)));
        return p;
    }

    /** The frame the kernel reads out for a TSO burst: the packet with a partial checksum behind a virtio header. */
    static byte[] offloadedFrame(byte[] packet, int version, int segmentSize) {
        int ip = version == 4 ? 20 : 40;
        byte[] p = packet.clone();
        InternetChecksum.writeShort(p, ip + 16, InternetChecksum.fold(InternetChecksum.pseudoHeader(p, 0, 6, p.length - ip)));
        byte[] frame = new byte[H + p.length];
        frame[0] = 1;
        frame[1] = (byte) (version == 4 ? 1 : 4);
        le16(frame, 2, ip + 20 + TIMESTAMPS);
        le16(frame, 4, segmentSize);
        le16(frame, 6, ip);
        le16(frame, 8, 16);
        System.arraycopy(p, 0, frame, H, p.length);
        return frame;
    }

    static void le16(byte[] b, int at, int v) {
        b[at] = (byte) v;
        b[at + 1] = (byte) (v >> 8);
    }

    static boolean checksumsValid(byte[] p, int length) {
        int ip = (p[0] >> 4) == 4 ? 20 : 40;
        if ((p[0] >> 4) == 4 && InternetChecksum.fold(InternetChecksum.add(0, p, 0, 20)) != 0xFFFF) {
            return false;
        }
        long sum = InternetChecksum.pseudoHeader(p, 0, 6, length - ip);
        return InternetChecksum.fold(InternetChecksum.add(sum, p, ip, length - ip)) == 0xFFFF;
    }

    private static byte[] randomBytes(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    @Test
    void aBurstSplitsIntoSegmentsWithCorrectChecksumsAndJoinsBackWhole() throws Exception {
        for (int version : new int[] {4, 6}) {
            int ip = version == 4 ? 20 : 40;
            byte[] payload = randomBytes(10_001, version); // 6 full segments and a short one
            byte[] burst = tcpPacket(version, 0xFFFF_F000L, 0x18, payload); // ACK|PSH, sequence wraps inside
            byte[] frame = offloadedFrame(burst, version, 1448);

            PacketBatch batch = new PacketBatch(4, 64); // small: the drain and slot growth are exercised
            List<byte[]> segments = new ArrayList<>();
            Runnable drain = () -> {
                for (int i = 0; i < batch.count(); i++) {
                    segments.add(Arrays.copyOf(batch.slot(i), batch.length(i)));
                }
                batch.clear();
            };
            SegmentationOffload.split(frame, frame.length, batch, drain);
            drain.run();

            assertEquals(7, segments.size());
            ByteArrayOutputStream joined = new ByteArrayOutputStream();
            for (int i = 0; i < segments.size(); i++) {
                byte[] s = segments.get(i);
                assertTrue(checksumsValid(s, s.length), "segment " + i + " checksums (IPv" + version + ")");
                assertEquals((0xFFFF_F000L + 1448L * i) & 0xFFFF_FFFFL, SegmentationOffload.readInt(s, ip + 4));
                assertEquals(i == 6 ? 0x18 : 0x10, s[ip + 13] & 0xFF, "PSH only on the last");
                assertEquals(i == 6 ? 10_001 - 6 * 1448 : 1448, s.length - ip - 32);
                joined.write(s, ip + 32, s.length - ip - 32);
            }
            assertArrayEquals(payload, joined.toByteArray());

            List<byte[]> written = new ArrayList<>();
            ReceiveCoalescer coalescer = new ReceiveCoalescer((f, n) -> written.add(Arrays.copyOf(f, n)));
            for (byte[] s : segments) {
                coalescer.add(s, s.length);
            }
            coalescer.flush();
            assertEquals(1, written.size());
            byte[] rejoined = written.get(0);
            byte[] expected = frame.clone();
            if (version == 4) {
                // The IPv4 identification is the first segment's; the kernel's burst had the same.
                assertArrayEquals(Arrays.copyOfRange(expected, H, expected.length), Arrays.copyOfRange(rejoined, H, rejoined.length));
            } else {
                assertArrayEquals(Arrays.copyOfRange(expected, H, expected.length), Arrays.copyOfRange(rejoined, H, rejoined.length));
            }
            assertArrayEquals(Arrays.copyOf(expected, H), Arrays.copyOf(rejoined, H), "virtio header");
            assertEquals(7, coalescer.segmentsWritten());
        }
    }

    @Test
    void aChecksumLeftToTheHardwareIsCompleted() throws Exception {
        byte[] packet = tcpPacket(4, 1, 0x10, randomBytes(100, 3));
        byte[] frame = offloadedFrame(packet, 4, 0);
        frame[1] = 0; // no segmentation, checksum only
        PacketBatch batch = new PacketBatch(2, 2048);
        SegmentationOffload.split(frame, frame.length, batch, () -> { });
        assertEquals(1, batch.count());
        assertArrayEquals(packet, Arrays.copyOf(batch.slot(0), batch.length(0)));
    }

    @Test
    void segmentsThatMustNotJoinAreWrittenAsTheyCameInOrder() throws Exception {
        List<byte[]> written = new ArrayList<>();
        ReceiveCoalescer coalescer = new ReceiveCoalescer((f, n) -> written.add(Arrays.copyOfRange(f, H, n)));
        byte[] a = tcpPacket(4, 1000, 0x10, randomBytes(1000, 1));
        byte[] gap = tcpPacket(4, 3000, 0x10, randomBytes(1000, 2)); // not next in sequence
        byte[] corrupt = tcpPacket(4, 4000, 0x10, randomBytes(1000, 3));
        corrupt[100] ^= 1; // fails its checksum: passed on for the kernel to drop, never joined
        byte[] badHeader = tcpPacket(4, 2000, 0x10, randomBytes(1000, 5)); // would follow a, but its IP header checksum is wrong
        badHeader[10] ^= 1;
        byte[] syn = tcpPacket(4, 5000, 0x02, new byte[0]);
        byte[] v6 = tcpPacket(6, 4000, 0x10, randomBytes(1000, 4));
        List<byte[]> in = List.of(a, badHeader, gap, corrupt, syn, v6);
        for (byte[] p : in) {
            coalescer.add(p, p.length);
        }
        coalescer.flush();
        assertEquals(in.size(), written.size());
        for (int i = 0; i < in.size(); i++) {
            assertArrayEquals(in.get(i), written.get(i), "packet " + i + " as it came");
        }
    }

    @Test
    void malformedFramesAreRefusedWithAReasonAndNothingElseEscapes() {
        PacketBatch batch = new PacketBatch(8, 2048);
        byte[] good = offloadedFrame(tcpPacket(4, 1, 0x10, randomBytes(5000, 9)), 4, 1448);
        assertThrows(SegmentationOffload.MalformedFrameException.class, () -> SegmentationOffload.split(good, 25, batch, batch::clear));
        byte[] zeroSize = good.clone();
        le16(zeroSize, 4, 0);
        assertThrows(SegmentationOffload.MalformedFrameException.class, () -> SegmentationOffload.split(zeroSize, zeroSize.length, batch, batch::clear));
        byte[] udp = good.clone();
        udp[1] = 3;
        assertThrows(SegmentationOffload.MalformedFrameException.class, () -> SegmentationOffload.split(udp, udp.length, batch, batch::clear));
        byte[] outside = good.clone();
        le16(outside, 8, 60_000);
        assertThrows(SegmentationOffload.MalformedFrameException.class, () -> SegmentationOffload.split(outside, outside.length, batch, batch::clear));

        // Random frames and random packets: a refusal or a result, never another exception.
        Random random = new Random(42);
        ReceiveCoalescer coalescer = new ReceiveCoalescer((f, n) -> { });
        for (int i = 0; i < 50_000; i++) {
            byte[] frame = new byte[random.nextInt(200)];
            random.nextBytes(frame);
            if (frame.length > 1) {
                frame[1] = (byte) random.nextInt(5);
            }
            if (frame.length > H) {
                frame[H] = (byte) (random.nextBoolean() ? 0x45 : 0x60);
            }
            batch.clear();
            try {
                SegmentationOffload.split(frame, frame.length, batch, batch::clear);
            } catch (SegmentationOffload.MalformedFrameException expected) {
                // refused
            }
            byte[] packet = Arrays.copyOfRange(frame, Math.min(H, frame.length), frame.length);
            assertDoesNotThrowIo(coalescer, packet);
        }
    }

    private static void assertDoesNotThrowIo(ReceiveCoalescer coalescer, byte[] packet) {
        try {
            coalescer.add(packet, packet.length);
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
    }
}
