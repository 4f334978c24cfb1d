package io.cloudbridge.masque.internal;

import io.cloudbridge.api.ipam.AddressAllocator;
import io.cloudbridge.api.ipam.AddressPoolExhaustedException;
import io.cloudbridge.api.ipam.Lease;
import io.cloudbridge.api.net.IpPrefix;
import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.api.overlay.OverlayPeer;
import io.cloudbridge.api.overlay.WireGuardEngine;
import io.cloudbridge.api.overlay.WireGuardEngines;
import io.cloudbridge.api.runtime.RuntimeEnvironment;
import io.cloudbridge.api.relay.AuthenticatedNode;
import io.cloudbridge.api.relay.ForwardResult;
import io.cloudbridge.api.relay.OverlayMembers;
import io.cloudbridge.api.relay.PacketSwitch;
import io.cloudbridge.api.relay.PortSink;
import io.cloudbridge.api.relay.SwitchPort;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The relay's CONNECT-IP gateways: one peer per tenant in that tenant's overlay, made at its first
 * CONNECT-IP session. A gateway has its own WireGuard key (kept in the state folder, so it stays
 * the same peer across restarts) and overlay address from IPAM, is published in the tenant's
 * network map, and is reached through the relay's own data plane: it is a port of the tenant's
 * switch, as a connected node is. Each session's client gets an address of the tenant from IPAM,
 * published among the gateway's allowed IPs so that the tenant's nodes accept its packets.
 *
 * <p>The gateway decrypts: between the client and the relay a CONNECT-IP session is protected by
 * QUIC's TLS, between the relay and the node by WireGuard, and the relay sees the IP packets in
 * between (unlike relayed WireGuard traffic, which it never decrypts).
 */
@Component(service = TenantGateways.class, immediate = true)
public final class TenantGateways {
    private static final Logger LOG = LoggerFactory.getLogger(TenantGateways.class);
    private static final SecureRandom RANDOM = new SecureRandom();
    static final String GATEWAY_NAME = "relay-gateway";

    private final OverlayMembers members;
    private final PacketSwitch dataPlane;
    private final AddressAllocator ipam;
    private final WireGuardEngines engines;
    private final RuntimeEnvironment environment;
    /** The tenant's policy, enforced for the gateway's clients on what nodes send them. */
    private final io.cloudbridge.api.policy.StatefulFilters filters;
    private final Path keys;
    private final Map<String, Gateway> byTenant = new ConcurrentHashMap<>();
    /**
     * Applies the tenants' peer lists to the gateways' engines: the control plane tells them under
     * its map's lock, and adding peers costs a Diffie-Hellman each, which must not hold up the map.
     */
    private final java.util.concurrent.ExecutorService peerUpdates = java.util.concurrent.Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "masque-gateway-peers");
        t.setDaemon(true);
        return t;
    });

    @Activate
    public TenantGateways(@Reference OverlayMembers members, @Reference PacketSwitch dataPlane, @Reference AddressAllocator ipam,
            @Reference WireGuardEngines engines, @Reference RuntimeEnvironment environment,
            @Reference io.cloudbridge.api.policy.StatefulFilters filters) {
        this.filters = filters;
        this.members = members;
        this.dataPlane = dataPlane;
        this.ipam = ipam;
        this.engines = engines;
        this.environment = environment;
        this.keys = environment.stateFolder().resolve("masque").resolve("gateways");
    }

    @Deactivate
    void deactivate() {
        byTenant.values().forEach(Gateway::close);
        byTenant.clear();
        peerUpdates.shutdownNow();
    }

    /** The tenant's gateway, made (key, address, map entry, switch port) if it has none. Blocks: not on an event loop. */
    Gateway gateway(String tenant) throws IOException, AddressPoolExhaustedException {
        Gateway g = byTenant.get(tenant);
        if (g != null) {
            return g;
        }
        synchronized (this) {
            g = byTenant.get(tenant);
            if (g == null) {
                g = new Gateway(tenant);
                byTenant.put(tenant, g);
            }
            return g;
        }
    }

    /** The tenant's overlay prefixes (empty before its first node or gateway). Blocks (IPAM). */
    List<IpPrefix> prefixes(String tenant) {
        return ipam.prefixes(tenant);
    }

    List<Gateway> gateways() {
        return List.copyOf(byTenant.values());
    }

    /** The gateway's private key for the tenant, made once and kept owner-only in the state folder. */
    private byte[] privateKey(String tenant) throws IOException {
        Path file = keys.resolve(fileName(tenant) + ".key");
        if (Files.exists(file)) {
            byte[] key = java.util.Base64.getDecoder().decode(Files.readString(file).trim());
            if (key.length == 32) {
                return key;
            }
            throw new IOException("the gateway key in " + file + " is not 32 bytes");
        }
        byte[] key = new byte[32];
        RANDOM.nextBytes(key);
        key[0] &= (byte) 248; // X25519 clamping, as wg genkey does
        key[31] &= 127;
        key[31] |= 64;
        environment.writeSecret(file, java.util.Base64.getEncoder().encodeToString(key) + "\n");
        return key;
    }

    /** Tenant names are the operator's: the file is named by their hash, never by the name itself. */
    private static String fileName(String tenant) {
        return HexFormat.of().formatHex(sha256(tenant.getBytes(StandardCharsets.UTF_8)), 0, 16);
    }

    private static byte[] sha256(byte[] in) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(in);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** One tenant's gateway peer. */
    final class Gateway {
        final String tenant;
        final NodeKey key;
        final Lease lease;
        private final WireGuardEngine engine;
        private final OverlayMembers.Membership membership;
        /**
         * The tenant's policy for the clients' addresses: what nodes send a client is let in as the
         * policy says (replies to the client's own flows always); what a client sends a node, the
         * node's own filter decides. Fails closed until the control plane has told it the policy.
         */
        private final io.cloudbridge.api.policy.StatefulFilters.Filter policy;
        /** The gateway's port on its tenant's switch; replaced when the switch let go of it. Guarded by this. */
        private SwitchPort port;
        private volatile boolean closed;
        /** The sessions by their client's addresses (IPv4 and IPv6 each). */
        private final Map<InetAddress, IpSession> sessions = new ConcurrentHashMap<>();
        /** Derives the session leases' keys. */
        private final byte[] secret;
        final LongAdder packetsToNodes = new LongAdder();
        final LongAdder packetsFromNodes = new LongAdder();
        private final Map<String, LongAdder> drops = new ConcurrentHashMap<>();

        Gateway(String tenant) throws IOException, AddressPoolExhaustedException {
            this.tenant = tenant;
            byte[] privateKey = privateKey(tenant);
            this.secret = sha256(privateKey); // not the key itself: another use, another secret
            this.policy = filters.create("CONNECT-IP gateway of tenant " + tenant);
            this.engine = engines.create(privateKey, this::transmit, this::fromNode);
            this.key = engine.publicKey();
            try {
                this.lease = ipam.allocate(tenant, key);
                this.membership = members.join(tenant, key, GATEWAY_NAME, own(), this::peersChanged, policy::install);
            } catch (AddressPoolExhaustedException | RuntimeException e) {
                engine.close();
                policy.close();
                throw e;
            }
            try {
                attach();
            } catch (RuntimeException e) {
                membership.close();
                engine.close();
                policy.close();
                throw e;
            }
            LOG.info("CONNECT-IP gateway of tenant {}: key {}, overlay address {}", tenant, key, lease.ipv4().getHostAddress());
        }

        /**
         * The gateway's open port, attached (again) when it has none: each attachment has its own
         * sink, so that the switch letting go of an old port never clears a newer one.
         */
        private synchronized SwitchPort port() {
            SwitchPort p = port;
            if (p != null && p.isOpen()) {
                return p;
            }
            if (closed) {
                return null;
            }
            SwitchPort[] attached = new SwitchPort[1];
            PortSink sink = new PortSink() {
                @Override
                public boolean deliver(NodeKey source, ByteBuffer packet) {
                    // On the sending node's forwarding thread (an event loop other tenants' traffic
                    // shares): the engine is told who sent it, budgets that node's handshakes and
                    // does their Diffie-Hellman work on its own thread.
                    engine.receiveEncrypted(source, packet);
                    return true;
                }

                @Override
                public void closed(String reason) {
                    LOG.info("the CONNECT-IP gateway of tenant {} lost its switch port: {}; it attaches again when it next sends",
                            tenant, reason);
                    synchronized (Gateway.this) {
                        if (port == attached[0]) {
                            port = null;
                        }
                    }
                }
            };
            attached[0] = dataPlane.attach(new AuthenticatedNode(membership.nodeId(), tenant, key), "connect-ip", sink);
            port = attached[0];
            return attached[0];
        }

        /** The latest peer list not applied yet: a burst of map changes is applied once. */
        private final java.util.concurrent.atomic.AtomicReference<List<OverlayMembers.Member>> latestPeers =
                new java.util.concurrent.atomic.AtomicReference<>();

        private void peersChanged(List<OverlayMembers.Member> peers) {
            if (latestPeers.getAndSet(peers) != null) {
                return; // an update is queued already; it takes this list
            }
            try {
                peerUpdates.execute(() -> {
                    List<OverlayMembers.Member> now = latestPeers.getAndSet(null);
                    if (now != null && !closed) {
                        engine.setPeers(now.stream().map(m -> new OverlayPeer(m.key(), m.allowedIps(), Optional.empty())).toList());
                    }
                });
            } catch (java.util.concurrent.RejectedExecutionException stopping) {
                latestPeers.set(null);
            }
        }

        private void attach() {
            port();
        }

        private List<IpPrefix> own() {
            return List.of(new IpPrefix(lease.ipv4(), 32), new IpPrefix(lease.ipv6(), 128));
        }

        /** The tenant's prefixes: what its clients reach through the gateway. */
        List<IpPrefix> prefixes() {
            return ipam.prefixes(tenant);
        }

        /**
         * A session's client gets its addresses, published among the gateway's allowed IPs. Blocks
         * (IPAM). The lease is keyed by the client and its k-th concurrent session (k the lowest
         * free), derived with the gateway's secret: a client that comes back gets the addresses it
         * had, and the leases a crash left behind are taken up again by the same clients instead
         * of piling up.
         */
        synchronized Lease admit(IpSession session) throws AddressPoolExhaustedException {
            java.util.Set<NodeKey> inUse = new java.util.HashSet<>();
            sessions.values().forEach(s -> inUse.add(s.leaseKey));
            NodeKey key;
            for (int k = 0;; k++) {
                key = sessionKey(session.client.id(), k);
                if (!inUse.contains(key)) {
                    break;
                }
            }
            session.leaseKey = key;
            Lease l = ipam.allocate(tenant, key);
            sessions.put(l.ipv4(), session);
            sessions.put(l.ipv6(), session);
            publish();
            return l;
        }

        private NodeKey sessionKey(String client, int k) {
            try {
                javax.crypto.Mac mac = javax.crypto.Mac.getInstance("HmacSHA256");
                mac.init(new javax.crypto.spec.SecretKeySpec(secret, "HmacSHA256"));
                return NodeKey.of(mac.doFinal((client + "/" + k).getBytes(StandardCharsets.UTF_8)));
            } catch (java.security.GeneralSecurityException e) {
                throw new IllegalStateException(e);
            }
        }

        /** The session ended: its addresses go back to the pool and leave the map. Blocks (IPAM). */
        synchronized void release(IpSession session, Lease l) {
            sessions.remove(l.ipv4(), session);
            sessions.remove(l.ipv6(), session);
            publish();
            ipam.release(tenant, session.leaseKey);
        }

        /** The clients' addresses among the gateway's allowed IPs, and who each client is, for the tenant's policy. */
        private void publish() {
            List<IpPrefix> allowed = new ArrayList<>(own());
            Map<IpSession, List<InetAddress>> byClient = new java.util.LinkedHashMap<>();
            for (Map.Entry<InetAddress, IpSession> e : sessions.entrySet()) {
                allowed.add(new IpPrefix(e.getKey(), e.getKey().getAddress().length == 4 ? 32 : 128));
                byClient.computeIfAbsent(e.getValue(), k -> new ArrayList<>()).add(e.getKey());
            }
            List<OverlayMembers.Client> clients = new ArrayList<>();
            byClient.forEach((session, addresses) -> clients.add(new OverlayMembers.Client(session.leaseKey.toBase64(),
                    session.client.nodeId(), session.client.user(), session.client.idpGroups(), addresses)));
            membership.clients(allowed, clients);
        }

        boolean clientAddress(InetAddress a) {
            return sessions.containsKey(a);
        }

        boolean ownAddress(InetAddress a) {
            return a.equals(lease.ipv4()) || a.equals(lease.ipv6());
        }

        /** An IP packet from a client, into the overlay: the policy filter notes its flow, so that the node's replies get back. */
        boolean toNodes(ByteBuf packet) {
            byte[] copy = FILTER_BUFFER.get();
            int length = packet.readableBytes();
            if (length <= copy.length) {
                packet.getBytes(packet.readerIndex(), copy, 0, length);
                if (!policy.noteOutbound(copy, 0, length)) {
                    drop("from client: a flow the tenant's policy stopped");
                    return false;
                }
            }
            boolean sent = engine.send(packet.nioBuffer());
            if (sent) {
                packetsToNodes.increment();
            } else {
                drop("no node has the destination address");
            }
            return sent;
        }

        /** WireGuard's messages, through the relay's switch to the node. */
        private boolean transmit(NodeKey peer, ByteBuffer message) {
            SwitchPort p = port(); // attached again if the switch let go of it: this member is still in the map
            if (p == null) {
                return false; // closing
            }
            ForwardResult r = p.forward(peer, message);
            if (r != ForwardResult.FORWARDED) {
                drop("to node: " + r.name().toLowerCase(java.util.Locale.ROOT).replace('_', ' '));
                return false;
            }
            return true;
        }

        /** A decrypted packet from a node: to the session whose client has its destination. */
        private void fromNode(NodeKey peer, ByteBuffer ipPacket) {
            ByteBuf packet = Unpooled.wrappedBuffer(ipPacket);
            String[] why = new String[1];
            IpHeader h = IpHeader.parse(packet, why);
            IpSession s = h == null ? null : sessions.get(h.destination());
            if (s == null) {
                drop(h == null ? "from node: " + why[0] : "from node: no session has the destination address");
                return;
            }
            if (!admittedByPolicy(ipPacket)) {
                drop("from node: refused by the tenant's policy");
                return;
            }
            packetsFromNodes.increment();
            s.toClient(ipPacket);
        }

        private boolean admittedByPolicy(ByteBuffer ipPacket) {
            if (ipPacket.hasArray()) {
                return policy.admitInbound(ipPacket.array(), ipPacket.arrayOffset() + ipPacket.position(), ipPacket.remaining());
            }
            byte[] copy = FILTER_BUFFER.get();
            int length = Math.min(copy.length, ipPacket.remaining());
            ipPacket.duplicate().get(copy, 0, length);
            return policy.admitInbound(copy, 0, length);
        }

        /** The filter's drops by reason, for masque:gateways. */
        Map<String, Long> policyDrops() {
            return policy.drops();
        }

        void drop(String why) {
            drops.computeIfAbsent(why, k -> new LongAdder()).increment();
        }

        Map<String, Long> drops() {
            Map<String, Long> out = new java.util.TreeMap<>();
            drops.forEach((k, v) -> out.put(k, v.sum()));
            return out;
        }

        /** What the gateway's WireGuard refused: among it the handshakes shed and the cookie replies sent. */
        Map<String, Long> wireGuardDrops() {
            return engine.drops();
        }

        int sessionCount() {
            return (int) sessions.values().stream().distinct().count();
        }

        void close() {
            closed = true;
            List.copyOf(sessions.values()).stream().distinct().forEach(IpSession::end);
            engine.close(); // first: its timers' keepalives and handshakes would attach a new port
            SwitchPort p;
            synchronized (this) {
                p = port;
                port = null;
            }
            if (p != null) {
                p.close();
            }
            membership.close();
            policy.close();
        }
    }

    /** A direct buffer's packet copied for the filter, which reads arrays; one per thread, as large as a packet gets. */
    private static final ThreadLocal<byte[]> FILTER_BUFFER = ThreadLocal.withInitial(() -> new byte[65_535]);
}
