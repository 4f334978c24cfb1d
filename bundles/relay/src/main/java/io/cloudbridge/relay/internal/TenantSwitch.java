package io.cloudbridge.relay.internal;

import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.api.relay.AuthenticatedNode;
import io.cloudbridge.api.relay.ForwardResult;
import io.cloudbridge.api.relay.PacketSwitch;
import io.cloudbridge.api.relay.PortSink;
import io.cloudbridge.api.relay.SwitchPort;
import io.micrometer.core.instrument.MeterRegistry;
import java.nio.ByteBuffer;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;
import org.osgi.service.metatype.annotations.Designate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The relay's packet switch: one port per connected node, found by tenant and WireGuard key, so
 * a packet can only reach a node of its sender's tenant. Packets are handed straight to the
 * destination's session (its sink copies or drops); nothing waits here, so a node that is slow
 * or gone costs the others nothing but a counted drop. The relay reads only the WireGuard
 * message type, to refuse what is not WireGuard; the rest stays encrypted end to end. Its figures
 * go to Micrometer when a registry is there ({@link RelayMeters}).
 */
@Component(service = {PacketSwitch.class, TenantSwitch.class}, configurationPid = "cloudbridge.forwarding")
@Designate(ocd = ForwardingConfig.class)
public final class TenantSwitch implements PacketSwitch {
    private static final Logger LOG = LoggerFactory.getLogger(TenantSwitch.class);
    static final Logger SECURITY = LoggerFactory.getLogger("io.cloudbridge.security");
    /** The smallest WireGuard message (a keepalive: 16 bytes of header, 16 of tag). */
    static final int MIN_PACKET = 32;
    /** No WireGuard message over an IP path is larger. */
    static final int MAX_PACKET = 65_535;
    /**
     * The transports of this project's plugins (the QUIC and WebSocket transports, and MASQUE's
     * CONNECT-IP gateways): their meters are there, at zero, before their first session.
     */
    static final List<String> KNOWN_TRANSPORTS = List.of("quic", "websocket", "connect-ip");

    /** How long a replaced session is kept before it is told to close (see attach). */
    private static final java.util.concurrent.Executor REPLACED_GRACE =
            java.util.concurrent.CompletableFuture.delayedExecutor(2, java.util.concurrent.TimeUnit.SECONDS);

    private final Map<String, Map<NodeKey, Port>> tenants = new ConcurrentHashMap<>();
    private final FairShare rates;
    private final Map<ForwardResult, LongAdder> outcomes = new EnumMap<>(ForwardResult.class);
    private final LongAdder bytesForwarded = new LongAdder();
    /**
     * Sessions attached since the relay started, by transport. The names come from the transport
     * plugins' code (see {@link PacketSwitch#attach}), never from a node, so the table stays small.
     */
    private final Map<String, LongAdder> attaches = new ConcurrentHashMap<>();
    private final LongSupplier nanoClock;
    private final RelayMeters meters = RelayMeters.of(this);

    @Activate
    public TenantSwitch(ForwardingConfig config) {
        this(config, System::nanoTime);
    }

    TenantSwitch(ForwardingConfig config, LongSupplier nanoClock) {
        this.nanoClock = nanoClock;
        this.rates = new FairShare(config, (tenant, key) -> {
            Map<NodeKey, Port> ports = tenants.get(tenant);
            return ports != null && ports.containsKey(key);
        }, nanoClock.getAsLong());
        for (ForwardResult r : ForwardResult.values()) {
            outcomes.put(r, new LongAdder());
        }
        KNOWN_TRANSPORTS.forEach(t -> attaches.put(t, new LongAdder()));
    }

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY)
    void bindMeterRegistry(MeterRegistry registry) {
        meters.bind(registry);
    }

    void unbindMeterRegistry(MeterRegistry registry) {
        meters.unbind(registry);
    }

    @Override
    public SwitchPort attach(AuthenticatedNode node, String transport, PortSink sink) {
        // The node's rates outlive its sessions: a reconnect finds them as the last session left them.
        Port port = new Port(node, transport, sink, rates.node(node.tenant(), node.key(), nanoClock.getAsLong()));
        Map<NodeKey, Port> ports = tenants.computeIfAbsent(node.tenant(), t -> new ConcurrentHashMap<>());
        Port replaced = ports.put(node.key(), port);
        port.replaced = replaced;
        if (replaced != null) {
            // Nothing is delivered to the older session from now on, and nothing it sends is
            // forwarded (see Port.forward): whoever holds it may be what the node is getting away
            // from (a stolen token, a key it just rotated). A node moving between transports loses
            // the few packets it still sends on the old one, which WireGuard recovers from. The
            // older session is told after a short grace, unless the node closed it meanwhile, or
            // closed the newer one (a node racing two transports keeps the one that connected first
            // and closes the later: delivery and forwarding go back to the older session, which stays).
            REPLACED_GRACE.execute(() -> {
                if (replaced.open && ports.get(node.key()) != replaced) {
                    replaced.open = false;
                    replaced.sink.closed("replaced by a newer session of the same node (" + transport + ")");
                }
            });
        }
        attachesOver(transport).increment();
        LOG.info("node {} of tenant {} connected over {}", node.nodeId(), node.tenant(), transport);
        return port;
    }

    /** The transport's count of attached sessions; a transport met for the first time gets its meters. */
    private LongAdder attachesOver(String transport) {
        LongAdder known = attaches.get(transport);
        if (known != null) {
            return known;
        }
        LongAdder added = new LongAdder();
        LongAdder raced = attaches.putIfAbsent(transport, added);
        if (raced != null) {
            return raced;
        }
        meters.transportAppeared(this, transport);
        return added;
    }

    @Override
    public boolean disconnect(String tenant, NodeKey node, String reason) {
        Map<NodeKey, Port> ports = tenants.get(tenant);
        Port port = ports == null ? null : ports.remove(node);
        if (port == null) {
            return false;
        }
        port.open = false;
        port.sink.closed(reason);
        SECURITY.info("relay session of node {} in tenant {} closed: {}", port.node.nodeId(), tenant, reason);
        return true;
    }

    /** The rates per tenant and node, for relay:sessions. */
    FairShare rates() {
        return rates;
    }

    /** The sessions now attached, for relay:sessions. */
    List<Port> ports() {
        return tenants.values().stream().flatMap(m -> m.values().stream()).toList();
    }

    /** Packets by outcome since the relay started. */
    Map<ForwardResult, Long> outcomes() {
        Map<ForwardResult, Long> out = new EnumMap<>(ForwardResult.class);
        outcomes.forEach((k, v) -> out.put(k, v.sum()));
        return out;
    }

    long outcome(ForwardResult result) {
        return outcomes.get(result).sum();
    }

    long bytesForwarded() {
        return bytesForwarded.sum();
    }

    /** The transports known up front and those sessions attached with since. */
    Set<String> transports() {
        return Set.copyOf(attaches.keySet());
    }

    /** Sessions attached over {@code transport} since the relay started. */
    long attaches(String transport) {
        LongAdder n = attaches.get(transport);
        return n == null ? 0 : n.sum();
    }

    /**
     * Sessions attached over {@code transport} now: the ports delivery goes to, as relay:sessions
     * lists them. Counted from the table when asked (a scrape's few microseconds per thousand
     * sessions), rather than kept up to date through replacements, hand-backs and disconnects.
     */
    long sessions(String transport) {
        long n = 0;
        for (Map<NodeKey, Port> ports : tenants.values()) {
            for (Port p : ports.values()) {
                if (p.transport.equals(transport)) {
                    n++;
                }
            }
        }
        return n;
    }

    private ForwardResult count(ForwardResult result) {
        outcomes.get(result).increment();
        return result;
    }

    /** A WireGuard message: types 1 to 4, then three reserved zero bytes (whitepaper section 5.4). */
    static boolean looksLikeWireGuard(ByteBuffer packet) {
        int n = packet.remaining();
        if (n < MIN_PACKET || n > MAX_PACKET) {
            return false;
        }
        int p = packet.position();
        int type = packet.get(p) & 0xff;
        return type >= 1 && type <= 4 && packet.get(p + 1) == 0 && packet.get(p + 2) == 0 && packet.get(p + 3) == 0;
    }

    final class Port implements SwitchPort {
        final AuthenticatedNode node;
        final String transport;
        final PortSink sink;
        final FairShare.Node rate;
        final LongAdder sent = new LongAdder();
        final LongAdder received = new LongAdder();
        final long attachedNanos = nanoClock.getAsLong();
        volatile boolean open = true;
        /** The session of the same node this one took delivery from; it gets it back if this one closes first. */
        volatile Port replaced;

        Port(AuthenticatedNode node, String transport, PortSink sink, FairShare.Node rate) {
            this.node = node;
            this.transport = transport;
            this.sink = sink;
            this.rate = rate;
        }

        @Override
        public AuthenticatedNode node() {
            return node;
        }

        @Override
        public ForwardResult forward(NodeKey destination, ByteBuffer packet) {
            Map<NodeKey, Port> ports = tenants.get(node.tenant());
            // Only the node's port now forwards: one replaced by a newer session stops at once.
            if (!open || ports == null || ports.get(node.key()) != this) {
                return count(ForwardResult.PORT_CLOSED);
            }
            if (!looksLikeWireGuard(packet)) {
                return count(ForwardResult.MALFORMED);
            }
            int size = packet.remaining();
            if (!rates.admit(rate, size, nanoClock.getAsLong())) {
                return count(ForwardResult.RATE_LIMITED);
            }
            Port to = ports == null ? null : ports.get(destination);
            if (to == null || !to.open) {
                return count(ForwardResult.NOT_CONNECTED);
            }
            if (!to.sink.deliver(node.key(), packet.duplicate())) {
                return count(ForwardResult.DESTINATION_BUSY);
            }
            sent.increment();
            to.received.increment();
            bytesForwarded.add(size);
            return count(ForwardResult.FORWARDED);
        }

        @Override
        public boolean isOpen() {
            return open;
        }

        @Override
        public void close() {
            open = false;
            Map<NodeKey, Port> ports = tenants.get(node.tenant());
            if (ports == null) {
                return;
            }
            Port previous = replaced;
            while (previous != null && !previous.open) {
                previous = previous.replaced;
            }
            replaced = null;
            if (previous != null && ports.replace(node.key(), this, previous)) {
                LOG.info("node {} of tenant {} closed its session over {}: delivery back on its session over {}", node.nodeId(),
                        node.tenant(), transport, previous.transport);
            } else if (ports.remove(node.key(), this)) {
                LOG.info("node {} of tenant {} disconnected from {}", node.nodeId(), node.tenant(), transport);
            }
        }
    }
}
