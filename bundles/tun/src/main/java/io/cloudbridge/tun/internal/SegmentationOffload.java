package io.cloudbridge.tun.internal;

import io.cloudbridge.api.net.PacketBatch;

/**
 * The read side of TUN offload. A device opened with a virtio-net header and TSO hands the engine
 * whole TCP send bursts as one frame of up to 64 KiB (the kernel skipped segmenting them), and
 * small packets whose checksum it left for the "hardware" to finish. This turns each frame back
 * into ordinary IP packets, each no larger than the MTU, with every checksum complete: one read
 * system call where there were up to 45.
 *
 * <p>Frame layout: {@code struct virtio_net_hdr} (10 bytes, little-endian on every host we run
 * on) then the IP packet.
 */
public final class SegmentationOffload {
    public static final int VIRTIO_HEADER_LENGTH = 10;
    static final int F_NEEDS_CSUM = 1;
    static final int GSO_NONE = 0;
    static final int GSO_TCPV4 = 1;
    static final int GSO_TCPV6 = 4;
    static final int GSO_ECN = 0x80;
    private static final int TCP = 6;
    private static final int TCP_FIN = 0x01;
    private static final int TCP_PSH = 0x08;
    private static final int TCP_CWR = 0x80;

    /** Why a frame could not be split: kept for the caller's drop counters. */
    public static final class MalformedFrameException extends Exception {
        private static final long serialVersionUID = 1L;

        MalformedFrameException(String reason) {
            super(reason, null, false, false); // hot path under bad input: no stack trace
        }
    }

    private SegmentationOffload() {
    }

    static int readLe16(byte[] b, int at) {
        return (b[at] & 0xFF) | (b[at + 1] & 0xFF) << 8;
    }

    /**
     * Appends the packets a frame holds to {@code out}. When {@code out} fills, {@code drain}
     * runs (and must leave it empty) before splitting goes on.
     */
    public static void split(byte[] frame, int frameLength, PacketBatch out, Runnable drain) throws MalformedFrameException {
        if (frameLength < VIRTIO_HEADER_LENGTH + 20) {
            throw new MalformedFrameException("frame shorter than a header and an IP header");
        }
        int flags = frame[0] & 0xFF;
        int gsoType = frame[1] & 0xFF & ~GSO_ECN;
        int gsoSize = readLe16(frame, 4);
        int csumStart = readLe16(frame, 6);
        int csumOffset = readLe16(frame, 8);
        int p = VIRTIO_HEADER_LENGTH;
        int length = frameLength - p;
        if ((flags & F_NEEDS_CSUM) != 0 && (csumStart + csumOffset + 2 > length || csumStart < 20)) {
            throw new MalformedFrameException("checksum position outside the packet");
        }
        if (gsoType == GSO_NONE) {
            if (out.isFull()) {
                drain.run();
            }
            byte[] slot = out.next(length);
            System.arraycopy(frame, p, slot, 0, length);
            if ((flags & F_NEEDS_CSUM) != 0) {
                // The field holds the pseudo-header sum; the checksum covers it and what follows.
                int checksum = InternetChecksum.finish(InternetChecksum.add(0, slot, csumStart, length - csumStart));
                // A sum of zero is sent as 0xFFFF, as the kernel does: a UDP checksum of 0 means "none"
                // over IPv4 and is dropped over IPv6.
                InternetChecksum.writeShort(slot, csumStart + csumOffset, checksum == 0 ? 0xFFFF : checksum);
            }
            out.commit(length);
            return;
        }
        if (gsoType != GSO_TCPV4 && gsoType != GSO_TCPV6) {
            throw new MalformedFrameException("segmentation type " + gsoType + " was not offered");
        }
        int version = (frame[p] >> 4) & 0xF;
        if ((gsoType == GSO_TCPV4) != (version == 4) || (version != 4 && version != 6)) {
            throw new MalformedFrameException("segmentation type does not match the IP version");
        }
        int ipHeaderLength = csumStart;
        if (version == 4 && ipHeaderLength != (frame[p] & 0xF) * 4 || version == 6 && ipHeaderLength < 40
                || (flags & F_NEEDS_CSUM) == 0 || csumOffset != 16) {
            throw new MalformedFrameException("segmented frame without a TCP checksum to finish");
        }
        if (ipHeaderLength + 20 > length) {
            throw new MalformedFrameException("TCP header beyond the frame");
        }
        int tcpHeaderLength = ((frame[p + ipHeaderLength + 12] >> 4) & 0xF) * 4;
        int headerLength = ipHeaderLength + tcpHeaderLength;
        if (tcpHeaderLength < 20 || headerLength > length || gsoSize == 0) {
            throw new MalformedFrameException("bad TCP header or segment size");
        }
        int payload = length - headerLength;
        long firstSeq = readInt(frame, p + ipHeaderLength + 4);
        int firstId = InternetChecksum.readShort(frame, p + 4);
        int tcpFlags = frame[p + ipHeaderLength + 13] & 0xFF;
        int segments = Math.max(1, (payload + gsoSize - 1) / gsoSize);
        for (int i = 0; i < segments; i++) {
            int from = i * gsoSize;
            int segmentLength = Math.min(gsoSize, payload - from);
            if (out.isFull()) {
                drain.run();
            }
            int total = headerLength + segmentLength;
            byte[] s = out.next(total);
            System.arraycopy(frame, p, s, 0, headerLength);
            System.arraycopy(frame, p + headerLength + from, s, headerLength, segmentLength);
            if (version == 4) {
                InternetChecksum.writeShort(s, 2, total);
                InternetChecksum.writeShort(s, 4, (firstId + i) & 0xFFFF);
                InternetChecksum.fixIpv4HeaderChecksum(s, 0);
            } else {
                InternetChecksum.writeShort(s, 4, total - 40);
            }
            int t = ipHeaderLength;
            writeInt(s, t + 4, firstSeq + from);
            int f = tcpFlags;
            if (i != segments - 1) {
                f &= ~(TCP_FIN | TCP_PSH); // only the burst's last segment ends it
            }
            if (i != 0) {
                f &= ~TCP_CWR; // congestion window reduced is said once
            }
            s[t + 13] = (byte) f;
            InternetChecksum.writeShort(s, t + 16, 0);
            int tcpLength = tcpHeaderLength + segmentLength;
            long sum = InternetChecksum.pseudoHeader(s, 0, TCP, tcpLength);
            sum = InternetChecksum.add(sum, s, t, tcpLength);
            InternetChecksum.writeShort(s, t + 16, InternetChecksum.finish(sum));
            out.commit(total);
        }
    }

    static long readInt(byte[] b, int at) {
        return ((long) (b[at] & 0xFF) << 24) | (b[at + 1] & 0xFF) << 16 | (b[at + 2] & 0xFF) << 8 | (b[at + 3] & 0xFF);
    }

    static void writeInt(byte[] b, int at, long value) {
        b[at] = (byte) (value >> 24);
        b[at + 1] = (byte) (value >> 16);
        b[at + 2] = (byte) (value >> 8);
        b[at + 3] = (byte) value;
    }
}
