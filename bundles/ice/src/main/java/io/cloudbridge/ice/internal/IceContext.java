package io.cloudbridge.ice.internal;

import io.cloudbridge.api.net.NodeKey;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.security.SecureRandom;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the engine's parts share, handed to each explicitly so that no part keeps a copy that could
 * drift from the others'. Everything here is touched on the engine's thread only, unless its
 * comment says otherwise.
 */
final class IceContext {
    /** The parts log under the engine's name, as they did when they were one class: log filters know that name. */
    static final Logger LOG = LoggerFactory.getLogger(IceEngine.class);
    static final SecureRandom RANDOM = new SecureRandom();

    /** Where a datagram that came to a base other than the overlay's socket goes; any thread. */
    interface BaseInput {
        void receive(IceEngine.Base via, InetSocketAddress peer, ByteBuffer payload);
    }

    final NodeKey self;
    final IceEngine.Socket socket;
    final IceEngine.Signals signals;
    final IceEngine.Timers timers;
    final ScheduledExecutorService loop;
    final BaseInput baseInput;
    /** Path attempts and losses, for the meters; the component's, which outlives this engine. */
    final PathMeters meters;
    final IceWire wire = new IceWire();
    final Map<NodeKey, PeerSession> sessions = new HashMap<>();
    final Map<String, PeerSession> byLocalUfrag = new HashMap<>();
    final Map<String, PendingRequest> pending = new HashMap<>();
    /** Counted from any thread. */
    final Map<String, LongAdder> drops = new ConcurrentHashMap<>();
    /** The MASQUE path, while the operator turned it on: each peer's public candidates get a tunnel through the proxy. */
    io.cloudbridge.api.tunnel.MasquePath masque;
    /** Birthday-paradox probing where one side's NAT maps per destination and the other's does not (see {@link BirthdayProbe}). */
    volatile boolean birthdayProbing;

    IceContext(NodeKey self, IceEngine.Socket socket, IceEngine.Signals signals, IceEngine.Timers timers, ScheduledExecutorService loop,
            BaseInput baseInput, PathMeters meters) {
        this.self = self;
        this.socket = socket;
        this.signals = signals;
        this.timers = timers;
        this.loop = loop;
        this.baseInput = baseInput;
        this.meters = meters;
    }

    void count(String why) {
        drops.computeIfAbsent(why, k -> new LongAdder()).increment();
    }

    /** One datagram from the shared socket, or from another base when {@code via} is one. */
    boolean sendVia(IceEngine.Base via, InetSocketAddress to, ByteBuffer datagram) {
        return via == null ? socket.send(to, datagram) : via.send(to, datagram);
    }
}
