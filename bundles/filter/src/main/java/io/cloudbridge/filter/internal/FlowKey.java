package io.cloudbridge.filter.internal;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.security.SecureRandom;

/**
 * A flow as this node sees it: the protocol, the node's own address and port, the peer's address
 * and port. Seen from the node, a packet in and its reply out have the same key, so that one look-up
 * finds the flow whichever way the packet goes.
 *
 * <p>ICMP has no ports: an echo flow is keyed by its identifier and by which side sent the
 * requests ({@link #ECHO_OPENED_BY_US}, {@link #ECHO_OPENED_BY_PEER}), so that the node's ping of a
 * peer lets in that peer's replies but not its requests; other informational ICMP is keyed by its
 * type. Protocols other than TCP, UDP and ICMP are keyed by the addresses alone: a rule decides
 * them without ports, so one such flow between two addresses is as good as another.
 */
final class FlowKey {
    /** In the peer's port slot of an ICMP key; beyond 16 bits, so never confused with a port. */
    static final int ECHO_OPENED_BY_US = 1 << 16;
    static final int ECHO_OPENED_BY_PEER = 2 << 16;
    static final int OTHER_ICMP = 3 << 16;

    /**
     * Mixed into every hash: the table's stripes and buckets are chosen by it, and a peer that
     * could predict them could pile its flows into one bucket and make every look-up there slow.
     */
    private static final long SEED = new SecureRandom().nextLong() | 1;

    final int version;
    final int protocol;
    final long localHigh;
    final long localLow;
    final long remoteHigh;
    final long remoteLow;
    /** TCP and UDP: the node's port; ICMP: the echo identifier or the type. */
    final int localPort;
    /** TCP and UDP: the peer's port; ICMP: which kind of ICMP flow. */
    final int remotePort;
    private final int hash;

    private FlowKey(int version, int protocol, long localHigh, long localLow, long remoteHigh, long remoteLow, int localPort,
            int remotePort) {
        this.version = version;
        this.protocol = protocol;
        this.localHigh = localHigh;
        this.localLow = localLow;
        this.remoteHigh = remoteHigh;
        this.remoteLow = remoteLow;
        this.localPort = localPort;
        this.remotePort = remotePort;
        long h = SEED;
        h = mix(h, ((long) version << 8) | protocol);
        h = mix(h, localHigh);
        h = mix(h, localLow);
        h = mix(h, remoteHigh);
        h = mix(h, remoteLow);
        h = mix(h, ((long) localPort << 32) | (remotePort & 0xffffffffL));
        this.hash = (int) (h ^ (h >>> 32));
    }

    /** The flow of a packet coming in: the node is its destination. */
    static FlowKey inbound(PacketHeaders h) {
        int local = h.destinationPort;
        int remote = h.sourcePort;
        if (h.isIcmp()) {
            local = h.isEchoRequest() || h.isEchoReply() ? h.icmpId : h.icmpType;
            remote = h.isEchoRequest() ? ECHO_OPENED_BY_PEER : h.isEchoReply() ? ECHO_OPENED_BY_US : OTHER_ICMP;
        } else if (!h.hasPorts()) {
            local = 0;
            remote = 0;
        }
        return new FlowKey(h.version, h.protocol, h.destinationHigh, h.destinationLow, h.sourceHigh, h.sourceLow, local, remote);
    }

    /** The flow of a packet going out (or of one an ICMP error quotes): the node is its source. */
    static FlowKey outbound(PacketHeaders h) {
        int local = h.sourcePort;
        int remote = h.destinationPort;
        if (h.isIcmp()) {
            local = h.isEchoRequest() || h.isEchoReply() ? h.icmpId : h.icmpType;
            remote = h.isEchoRequest() ? ECHO_OPENED_BY_US : h.isEchoReply() ? ECHO_OPENED_BY_PEER : OTHER_ICMP;
        } else if (!h.hasPorts()) {
            local = 0;
            remote = 0;
        }
        return new FlowKey(h.version, h.protocol, h.sourceHigh, h.sourceLow, h.destinationHigh, h.destinationLow, local, remote);
    }

    boolean hasPorts() {
        return protocol == PacketHeaders.TCP || protocol == PacketHeaders.UDP;
    }

    /** The flow as an operator reads it, from the side that sent its first packet: {@code tcp 100.64.0.2:40000 -> 100.64.0.1:22}. */
    String describe(boolean openedByPeer) {
        String local = address(localHigh, localLow);
        String remote = address(remoteHigh, remoteLow);
        String name = protocolName(protocol);
        if (hasPorts()) {
            local = endpoint(local, localPort);
            remote = endpoint(remote, remotePort);
        } else if (remotePort == ECHO_OPENED_BY_US || remotePort == ECHO_OPENED_BY_PEER) {
            name += " echo id " + localPort;
        } else if (remotePort == OTHER_ICMP) {
            name += " type " + localPort;
        }
        return name + " " + (openedByPeer ? remote + " -> " + local : local + " -> " + remote);
    }

    private String endpoint(String address, int port) {
        return (version == 6 ? "[" + address + "]" : address) + ":" + port;
    }

    private String address(long high, long low) {
        byte[] bytes = new byte[version == 4 ? 4 : 16];
        for (int i = 0; i < bytes.length; i++) {
            int fromEnd = bytes.length - 1 - i;
            bytes[i] = (byte) (fromEnd >= 8 ? high >>> (8 * (fromEnd - 8)) : low >>> (8 * fromEnd));
        }
        try {
            return InetAddress.getByAddress(bytes).getHostAddress(); // by address: never a name look-up
        } catch (UnknownHostException impossible) {
            throw new IllegalStateException(impossible);
        }
    }

    static String protocolName(int protocol) {
        return switch (protocol) {
            case PacketHeaders.ICMP -> "icmp";
            case PacketHeaders.TCP -> "tcp";
            case PacketHeaders.UDP -> "udp";
            case PacketHeaders.ICMPV6 -> "icmpv6";
            default -> "protocol " + protocol;
        };
    }

    private static long mix(long h, long value) {
        long x = (h ^ value) * 0x9E3779B97F4A7C15L;
        return x ^ (x >>> 29);
    }

    @Override
    public int hashCode() {
        return hash;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof FlowKey k && k.hash == hash && k.version == version && k.protocol == protocol
                && k.localLow == localLow && k.remoteLow == remoteLow && k.localHigh == localHigh && k.remoteHigh == remoteHigh
                && k.localPort == localPort && k.remotePort == remotePort;
    }

    @Override
    public String toString() {
        return describe(false);
    }
}
