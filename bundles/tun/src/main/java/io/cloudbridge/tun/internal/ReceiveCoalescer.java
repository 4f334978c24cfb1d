package io.cloudbridge.tun.internal;

import java.io.IOException;
import java.util.Arrays;

/**
 * The write side of TUN offload: consecutive TCP segments of one flow, as the engine decrypts them
 * in a batch, are joined into one frame that the kernel takes as a single large packet (generic
 * receive offload done in userspace). The kernel's TCP then handles one packet where there were up
 * to 45, which is most of the receiving side's cost.
 *
 * <p>Only what the kernel itself would merge is joined: plain ACK segments (PSH allowed on the
 * last) of one connection, in sequence, with identical IP and TCP header fields apart from lengths,
 * IPv4 identification and checksums, each carrying a correct checksum, all the size of the first but
 * the last. Everything else is written as it came, in order.
 */
public final class ReceiveCoalescer {
    /** Where frames go: the TUN device. */
    public interface FrameWriter {
        void write(byte[] frame, int length) throws IOException;
    }

    private static final int TCP = 6;
    private static final int TCP_ACK = 0x10;
    private static final int TCP_PSH = 0x08;
    private static final int MAX_PACKET = 65_535;
    private static final int H = SegmentationOffload.VIRTIO_HEADER_LENGTH;

    private final FrameWriter writer;
    /** The frame being built: virtio header, then the first segment's headers and every payload so far. */
    private final byte[] frame = new byte[H + MAX_PACKET];
    private int packetLength; // bytes after the virtio header; 0 when nothing is held
    private int segments;
    private int ipHeaderLength;
    private int tcpHeaderLength;
    private int segmentSize;
    private long nextSeq;
    private boolean closed; // a short or PSH segment ends what may follow
    private boolean push;
    private final java.util.concurrent.atomic.LongAdder framesWritten;
    private final java.util.concurrent.atomic.LongAdder segmentsWritten;

    public ReceiveCoalescer(FrameWriter writer) {
        this(writer, new java.util.concurrent.atomic.LongAdder(), new java.util.concurrent.atomic.LongAdder());
    }

    /** Counts frames written and the segments they carried into the given counters (shared by a device's coalescers). */
    public ReceiveCoalescer(FrameWriter writer, java.util.concurrent.atomic.LongAdder frames,
            java.util.concurrent.atomic.LongAdder segments) {
        this.writer = writer;
        this.framesWritten = frames;
        this.segmentsWritten = segments;
    }

    /** Frames written and segments they carried, for the engine's counters. */
    public long framesWritten() {
        return framesWritten.sum();
    }

    public long segmentsWritten() {
        return segmentsWritten.sum();
    }

    /** Takes the next packet of the batch; it may be held until {@link #flush}. */
    public void add(byte[] packet, int length) throws IOException {
        if (packetLength > 0 && joins(packet, length)) {
            append(packet, length);
            return;
        }
        flush();
        if (candidate(packet, length)) {
            System.arraycopy(packet, 0, frame, H, length);
            packetLength = length;
            segments = 1;
            ipHeaderLength = ipHeaderLength(packet);
            tcpHeaderLength = ((packet[ipHeaderLength + 12] >> 4) & 0xF) * 4;
            segmentSize = length - ipHeaderLength - tcpHeaderLength;
            nextSeq = (SegmentationOffload.readInt(packet, ipHeaderLength + 4) + segmentSize) & 0xFFFF_FFFFL;
            push = (packet[ipHeaderLength + 13] & TCP_PSH) != 0;
            closed = push;
            return;
        }
        Arrays.fill(frame, 0, H, (byte) 0); // no offload asked: the kernel checks the packet as usual
        System.arraycopy(packet, 0, frame, H, length);
        write(H + length, 1);
    }

    /** Writes what is held. Call at the end of every batch. */
    public void flush() throws IOException {
        if (packetLength == 0) {
            return;
        }
        int length = packetLength;
        packetLength = 0;
        if (segments == 1) {
            Arrays.fill(frame, 0, H, (byte) 0); // untouched: its own checksum stands
            write(H + length, 1);
            return;
        }
        int version = (frame[H] >> 4) & 0xF;
        if (version == 4) {
            InternetChecksum.writeShort(frame, H + 2, length);
            InternetChecksum.fixIpv4HeaderChecksum(frame, H);
        } else {
            InternetChecksum.writeShort(frame, H + 4, length - 40);
        }
        int t = H + ipHeaderLength;
        if (push) {
            frame[t + 13] |= TCP_PSH;
        }
        // A partial checksum: the pseudo-header sum, which the kernel completes (or trusts, for
        // local delivery) as it would for a NIC that offloads checksums.
        int tcpLength = length - ipHeaderLength;
        InternetChecksum.writeShort(frame, t + 16, InternetChecksum.fold(InternetChecksum.pseudoHeader(frame, H, TCP, tcpLength)));
        frame[0] = SegmentationOffload.F_NEEDS_CSUM;
        frame[1] = (byte) (version == 4 ? SegmentationOffload.GSO_TCPV4 : SegmentationOffload.GSO_TCPV6);
        writeLe16(2, ipHeaderLength + tcpHeaderLength);
        writeLe16(4, segmentSize);
        writeLe16(6, ipHeaderLength);
        writeLe16(8, 16);
        write(H + length, segments);
    }

    private void write(int frameLength, int carried) throws IOException {
        framesWritten.increment();
        segmentsWritten.add(carried);
        writer.write(frame, frameLength);
    }

    private void writeLe16(int at, int value) {
        frame[at] = (byte) value;
        frame[at + 1] = (byte) (value >> 8);
    }

    private static int ipHeaderLength(byte[] p) {
        return ((p[0] >> 4) & 0xF) == 4 ? (p[0] & 0xF) * 4 : 40;
    }

    /** A TCP segment that could start a run: ACK (maybe PSH) with data, a valid checksum, no IP options or extension headers. */
    private static boolean candidate(byte[] p, int length) {
        if (length < 40) {
            return false;
        }
        int version = (p[0] >> 4) & 0xF;
        int ip;
        if (version == 4) {
            if ((p[0] & 0xF) != 5 || p[9] != TCP || InternetChecksum.readShort(p, 2) != length) {
                return false;
            }
            if (InternetChecksum.fold(InternetChecksum.add(0, p, 0, 20)) != 0xFFFF) {
                return false; // a bad header stays alone, for the kernel to drop, as its own GRO would
            }
            int fragment = InternetChecksum.readShort(p, 6);
            if ((fragment & 0x3FFF) != 0) {
                return false; // a fragment, or more to come
            }
            ip = 20;
        } else if (version == 6) {
            if (length < 60 || p[6] != TCP || InternetChecksum.readShort(p, 4) != length - 40) {
                return false;
            }
            ip = 40;
        } else {
            return false;
        }
        int tcpHeaderLength = ((p[ip + 12] >> 4) & 0xF) * 4;
        if (tcpHeaderLength < 20 || ip + tcpHeaderLength >= length) {
            return false; // no payload to join
        }
        if ((p[ip + 13] & 0xFF & ~TCP_PSH) != TCP_ACK) {
            return false;
        }
        int tcpLength = length - ip;
        long sum = InternetChecksum.pseudoHeader(p, 0, TCP, tcpLength);
        return InternetChecksum.fold(InternetChecksum.add(sum, p, ip, tcpLength)) == 0xFFFF;
    }

    /** Whether {@code p} continues the held run. */
    private boolean joins(byte[] p, int length) {
        if (closed || !candidate(p, length)) {
            return false;
        }
        int version = (p[0] >> 4) & 0xF;
        if (version != ((frame[H] >> 4) & 0xF)) {
            return false;
        }
        if (version == 4) {
            // version/IHL, TOS; flags and fragment offset, TTL, protocol; addresses
            if (!same(p, 0, 2) || !same(p, 6, 4) || !same(p, 12, 8)) {
                return false;
            }
        } else if (!same(p, 0, 4) || !same(p, 6, 34)) { // class and flow label; next header, hop limit, addresses
            return false;
        }
        int ip = ipHeaderLength;
        int tcpHeader = ((p[ip + 12] >> 4) & 0xF) * 4;
        int payload = length - ip - tcpHeader;
        if (tcpHeader != tcpHeaderLength || payload > segmentSize || packetLength + payload > MAX_PACKET) {
            return false;
        }
        if (SegmentationOffload.readInt(p, ip + 4) != nextSeq) {
            return false;
        }
        // ports; acknowledgement; data offset; window and the options, all equal
        if (!same(p, ip, 4) || !same(p, ip + 8, 5) || !same(p, ip + 14, 2) || !same(p, ip + 20, tcpHeader - 20)) {
            return false;
        }
        return true;
    }

    private boolean same(byte[] p, int offset, int length) {
        return Arrays.equals(p, offset, offset + length, frame, H + offset, H + offset + length);
    }

    private void append(byte[] p, int length) {
        int header = ipHeaderLength + tcpHeaderLength;
        int payload = length - header;
        System.arraycopy(p, header, frame, H + packetLength, payload);
        packetLength += payload;
        segments++;
        nextSeq = (nextSeq + payload) & 0xFFFF_FFFFL;
        boolean pushed = (p[ipHeaderLength + 13] & TCP_PSH) != 0;
        push |= pushed;
        closed = pushed || payload < segmentSize;
    }
}
