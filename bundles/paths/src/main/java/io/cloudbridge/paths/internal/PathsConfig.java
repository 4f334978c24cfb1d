package io.cloudbridge.paths.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/** The 'paths' section: how the node picks its relay transport. */
@ObjectClassDefinition(name = "Paths", description = "How the node reaches its peers")
public @interface PathsConfig {

    /**
     * RFC 8305's connection attempt delay: QUIC's handshake with a relay takes one round trip, so a
     * node whose UDP gets out is on QUIC well within it, and one whose UDP is blocked (silently
     * dropped: no error tells it) starts WebSocket a quarter second later instead of a second.
     */
    @AttributeDefinition(description = "Milliseconds a better transport has to connect before the next one is tried beside it")
    long raceMillis() default 250;

    @AttributeDefinition(description = "First wait before a transport that failed is tried again, in milliseconds")
    long minRetryMillis() default 1000;

    @AttributeDefinition(description = "Longest wait before a transport that keeps failing is tried again, in milliseconds")
    long maxRetryMillis() default 30_000;

    @AttributeDefinition(description = "Milliseconds a transport that is going away waits for the next one to take its peers")
    long handoverMillis() default 3000;

    /**
     * The overlay's UDP socket through Linux's epoll: a burst of one peer's datagrams in one system
     * call (as one datagram with UDP GSO, which the kernel cuts as late as it can), and received
     * bursts joined by the kernel (UDP GRO). Off, or where epoll is missing, the JDK's socket takes
     * a system call a datagram. Read when the overlay binds its socket.
     */
    @AttributeDefinition(description = "Whether the overlay's UDP socket sends and receives bursts in one system call (Linux's epoll, "
            + "UDP GSO and GRO where the kernel has them); false: a datagram a call")
    boolean socketBatching() default true;
}
