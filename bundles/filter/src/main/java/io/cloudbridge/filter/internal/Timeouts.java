package io.cloudbridge.filter.internal;

import java.util.concurrent.TimeUnit;

/** How long each kind of idle flow is remembered, in nanoseconds (see {@link FilterConfig}). */
record Timeouts(long tcpEstablishedNanos, long tcpClosingNanos, long udpNanos, long icmpNanos) {

    static Timeouts of(FilterConfig config) {
        return new Timeouts(nanos(config.tcpEstablishedSeconds()), nanos(config.tcpClosingSeconds()), nanos(config.udpSeconds()),
                nanos(config.icmpSeconds()));
    }

    /** At least a second: a zero or negative value from a hand-edited configuration must not make every flow expire at once. */
    private static long nanos(long seconds) {
        return TimeUnit.SECONDS.toNanos(Math.max(1, seconds));
    }

    long idleNanos(Flow flow) {
        return switch (flow.key.protocol) {
            case PacketHeaders.TCP -> flow.closing ? tcpClosingNanos : tcpEstablishedNanos;
            case PacketHeaders.ICMP, PacketHeaders.ICMPV6 -> icmpNanos;
            default -> udpNanos; // UDP, and protocols the filter knows no state of: datagrams with no close
        };
    }

    boolean expired(Flow flow, long nowNanos) {
        return nowNanos - flow.lastSeenNanos > idleNanos(flow);
    }
}
