package io.cloudbridge.masque.internal;

import io.cloudbridge.api.ipam.Lease;
import io.cloudbridge.api.net.IpPrefix;
import io.cloudbridge.api.net.NodeKey;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http3.DefaultHttp3DataFrame;
import io.netty.handler.codec.quic.QuicStreamChannel;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;

/**
 * One CONNECT-IP session (RFC 9484) through the tenant's gateway: the client is assigned an
 * overlay address of its tenant (ADDRESS_ASSIGN), told the tenant's prefixes (ROUTE_ADVERTISEMENT),
 * and its IP packets (context 0) go into the tenant's overlay, those of the tenant's nodes to its
 * address come back. A packet from another source than the assigned address, to a destination
 * outside the session's scope, of another IP protocol than the one asked for, or malformed, is
 * dropped and counted: a client reaches its own tenant's nodes and nothing else.
 */
final class IpSession implements StreamTunnel {
    private final MasqueProxy proxy;
    private final MasqueProxy.Connection connection;
    private final QuicStreamChannel stream;
    final MasqueProxy.Client client;
    /** The client's session slot, given back when the session closes. */
    private final Admission.Slot slot;
    final TenantGateways.Gateway gateway;
    /** Keys the client's IPAM lease (see {@link TenantGateways.Gateway#admit}); set when admitted. */
    volatile NodeKey leaseKey;
    /** The prefixes the client may reach: the tenant's, or the part of them the request's target named. */
    final List<IpPrefix> scope;
    /** The IP protocol asked for; -1 for all. */
    final int ipProtocol;
    volatile Lease lease;
    private final AtomicBoolean closed = new AtomicBoolean();
    private volatile long lastActivityNanos = System.nanoTime();
    private final java.util.concurrent.atomic.AtomicInteger pendingToClient = new java.util.concurrent.atomic.AtomicInteger();
    /** Set and cancelled on the stream's loop only. */
    private ScheduledFuture<?> idleCheck;
    final LongAdder packetsIn = new LongAdder();
    final LongAdder packetsOut = new LongAdder();
    final LongAdder datagramsOut = new LongAdder();
    final LongAdder capsulesOut = new LongAdder();
    private final Map<String, LongAdder> drops = new ConcurrentHashMap<>();
    final long openedNanos = System.nanoTime();

    IpSession(MasqueProxy proxy, MasqueProxy.Connection connection, QuicStreamChannel stream, MasqueProxy.Client client,
            Admission.Slot slot, TenantGateways.Gateway gateway, List<IpPrefix> scope, int ipProtocol) {
        this.proxy = proxy;
        this.connection = connection;
        this.stream = stream;
        this.client = client;
        this.slot = slot;
        this.gateway = gateway;
        this.scope = List.copyOf(scope);
        this.ipProtocol = ipProtocol;
    }

    /**
     * On the stream's loop, once the 200 is written: the session takes its place on the
     * connection, and the client hears its addresses and routes.
     */
    void started() {
        if (closed.get()) {
            return; // its gateway went away between the checks and the 200
        }
        connection.byStream.put(stream.streamId(), this);
        proxy.ipSessions.add(this);
        Lease l = lease;
        write(Capsules.ADDRESS_ASSIGN, IpCapsules.encodeAddresses(stream.alloc(), List.of(
                new IpCapsules.AssignedAddress(0, l.ipv4(), 32), new IpCapsules.AssignedAddress(0, l.ipv6(), 128))));
        write(Capsules.ROUTE_ADVERTISEMENT, IpCapsules.encodeRoutes(stream.alloc(), routes(scope, Math.max(ipProtocol, 0))));
        idleCheck = StreamTunnel.closeWhenIdle(this, stream, proxy.config.idleSeconds());
    }

    private void write(long type, ByteBuf value) {
        stream.writeAndFlush(new DefaultHttp3DataFrame(Capsules.encode(stream.alloc(), type, value)), stream.voidPromise());
    }

    /** The scope as RFC 9484 ranges: ordered by version, then start; one protocol (0: all). */
    static List<IpCapsules.AddressRange> routes(List<IpPrefix> scope, int protocol) {
        List<IpCapsules.AddressRange> out = new ArrayList<>();
        for (IpPrefix p : scope) {
            out.add(new IpCapsules.AddressRange(p.address(), last(p), protocol));
        }
        out.sort(Comparator.comparingInt(IpCapsules.AddressRange::version)
                .thenComparing((a, b) -> Arrays.compareUnsigned(a.start().getAddress(), b.start().getAddress())));
        // Overlapping prefixes (one inside another) would break the RFC's order: the outer one stands for both.
        List<IpCapsules.AddressRange> merged = new ArrayList<>();
        for (IpCapsules.AddressRange r : out) {
            IpCapsules.AddressRange prev = merged.isEmpty() ? null : merged.get(merged.size() - 1);
            if (prev != null && prev.version() == r.version()
                    && Arrays.compareUnsigned(prev.end().getAddress(), r.start().getAddress()) >= 0) {
                if (Arrays.compareUnsigned(prev.end().getAddress(), r.end().getAddress()) < 0) {
                    merged.set(merged.size() - 1, new IpCapsules.AddressRange(prev.start(), r.end(), protocol));
                }
                continue;
            }
            merged.add(r);
        }
        return merged;
    }

    /** The last address of a prefix (its first is {@link IpPrefix#address()}, which is masked). */
    static InetAddress last(IpPrefix p) {
        byte[] a = p.address().getAddress();
        for (int i = 0; i < a.length; i++) {
            int keep = Math.max(0, Math.min(8, p.length() - i * 8));
            a[i] |= (byte) (0xff >>> keep);
        }
        try {
            return InetAddress.getByAddress(a);
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public int maxPayload() {
        // An IP packet: up to the overlay's largest (IPv6's 65,535 is more than any path carries).
        return Math.max(proxy.config.maxPayload(), 1500);
    }

    @Override
    public void fromClient(ByteBuf packet, boolean viaDatagram) {
        if (closed.get()) {
            return;
        }
        Lease l = lease;
        String[] why = new String[1];
        IpHeader h = IpHeader.parse(packet, why);
        if (h == null) {
            drop("malformed: " + why[0]);
            return;
        }
        if (!h.source().equals(h.version() == 4 ? l.ipv4() : l.ipv6())) {
            drop("source is not the assigned address");
            return;
        }
        if (scope.stream().noneMatch(p -> p.contains(h.destination())) || gateway.ownAddress(h.destination())) {
            drop("destination outside the tenant's overlay");
            return;
        }
        if (gateway.clientAddress(h.destination())) {
            drop("destination is another CONNECT-IP client"); // clients reach nodes; they are not each other's LAN
            return;
        }
        if (ipProtocol >= 0 && h.protocol() != ipProtocol) {
            drop("another IP protocol than the session's");
            return;
        }
        lastActivityNanos = System.nanoTime();
        packetsIn.increment();
        gateway.toNodes(packet);
    }

    /** A packet from the overlay for the client; valid during the call only. */
    void toClient(ByteBuffer ipPacket) {
        if (closed.get()) {
            return;
        }
        if (pendingToClient.incrementAndGet() > MasqueProxy.Connection.MAX_PENDING_TO_CLIENT) {
            pendingToClient.decrementAndGet();
            dropToClient("the client's connection is behind");
            return;
        }
        ByteBuf copy = Unpooled.copiedBuffer(ipPacket);
        lastActivityNanos = System.nanoTime();
        packetsOut.increment();
        stream.eventLoop().execute(() -> {
            pendingToClient.decrementAndGet();
            if (closed.get() || !stream.isActive()) {
                copy.release();
                return;
            }
            switch (connection.toClient(stream, copy)) {
                case DATAGRAM -> datagramsOut.increment();
                case CAPSULE -> capsulesOut.increment();
                default -> dropToClient("the client's stream is full");
            }
        });
    }

    @Override
    public String capsule(long type, ByteBuf value) {
        if (type != Capsules.ADDRESS_REQUEST) {
            return null; // the client's own ADDRESS_ASSIGN or ROUTE_ADVERTISEMENT: it routes nothing for the tenant
        }
        List<IpCapsules.AssignedAddress> asked;
        try {
            asked = IpCapsules.decodeAddresses(value);
        } catch (Capsules.MalformedCapsuleException e) {
            return "malformed ADDRESS_REQUEST: " + e.getMessage();
        }
        Lease l = lease;
        long v4Request = 0;
        long v6Request = 0;
        for (IpCapsules.AssignedAddress a : asked) {
            if (a.requestId() == 0) {
                return "ADDRESS_REQUEST with request id 0 (RFC 9484 section 4.7.1)";
            }
            // The session's addresses whatever was asked for: the tenant's plan decides, not the client.
            if (a.address().getAddress().length == 4) {
                v4Request = a.requestId();
            } else {
                v6Request = a.requestId();
            }
        }
        if (!asked.isEmpty()) {
            // An ADDRESS_ASSIGN lists every address the receiver holds (RFC 9484 section 4.7.1):
            // both, each under the request it answers, or 0 where none asked for it.
            write(Capsules.ADDRESS_ASSIGN, IpCapsules.encodeAddresses(stream.alloc(), List.of(
                    new IpCapsules.AssignedAddress(v4Request, l.ipv4(), 32), new IpCapsules.AssignedAddress(v6Request, l.ipv6(), 128))));
        }
        return null;
    }

    /** A packet from the client dropped; {@code why} is a fixed text (it keys a counter). */
    private void drop(String why) {
        drops.computeIfAbsent(why, k -> new LongAdder()).increment();
        gateway.drop("from client: " + why);
    }

    private void dropToClient(String why) {
        drops.computeIfAbsent(why, k -> new LongAdder()).increment();
        gateway.drop("to client: " + why);
    }

    Map<String, Long> drops() {
        Map<String, Long> out = new java.util.TreeMap<>();
        drops.forEach((k, v) -> out.put(k, v.sum()));
        return out;
    }

    /** Ends the session from the proxy's side (its gateway is going away): closed, and the client sees the request finished. */
    void end() {
        StreamTunnel.endFromProxy(this, stream);
    }

    @Override
    public long lastActivityNanos() {
        return lastActivityNanos;
    }

    @Override
    public void close() {
        if (!stream.eventLoop().inEventLoop()) {
            // Serialized with started() on the stream's loop: a session closed from elsewhere (its
            // gateway going away) is never registered, or scheduled, after it was closed.
            try {
                stream.eventLoop().execute(this::close);
                return;
            } catch (java.util.concurrent.RejectedExecutionException loopGone) {
                // the proxy is stopping: close here
            }
        }
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        if (idleCheck != null) {
            idleCheck.cancel(false);
        }
        connection.byStream.remove(stream.streamId(), this);
        proxy.ipSessions.remove(this);
        slot.close();
        Lease l = lease;
        if (l != null) {
            try {
                proxy.checks.execute(gateway, () -> gateway.release(this, l)); // IPAM writes: off the event loop
            } catch (java.util.concurrent.RejectedExecutionException stopping) {
                gateway.release(this, l);
            }
        }
    }
}
