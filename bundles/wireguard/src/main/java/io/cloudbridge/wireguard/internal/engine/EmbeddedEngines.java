package io.cloudbridge.wireguard.internal.engine;

import io.cloudbridge.api.mesh.PathKind;
import io.cloudbridge.api.mesh.PeerPath;
import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.api.overlay.OverlayPeer;
import io.cloudbridge.api.overlay.WireGuardEngine;
import io.cloudbridge.api.overlay.WireGuardEngines;
import io.cloudbridge.wireguard.internal.device.Peer;
import io.cloudbridge.wireguard.internal.device.WireGuardDevice;
import io.cloudbridge.wireguard.internal.noise.Identity;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.time.Clock;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.osgi.service.component.annotations.Component;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * WireGuard engines for parts of the daemon that are overlay peers themselves (the relay's
 * CONNECT-IP gateway): the same userspace device as the node's interface, whose every peer is
 * reached through the owner's transmitter. The device still has its UDP socket, bound to a
 * loopback port nobody is told of; it carries nothing (no peer has an endpoint).
 */
@Component(service = WireGuardEngines.class)
public final class EmbeddedEngines implements WireGuardEngines {
    private static final Logger LOG = LoggerFactory.getLogger(EmbeddedEngines.class);

    @Override
    public WireGuardEngine create(byte[] privateKey, WireGuardEngine.Transmitter transmitter, WireGuardEngine.Receiver receiver)
            throws IOException {
        Identity identity = new Identity(privateKey);
        DatagramChannel unused = DatagramChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        try {
            return start(identity, unused, transmitter, receiver);
        } catch (IOException | RuntimeException e) {
            unused.close();
            throw e;
        }
    }

    private static WireGuardEngine start(Identity identity, DatagramChannel unused, WireGuardEngine.Transmitter transmitter,
            WireGuardEngine.Receiver receiver) throws IOException {
        NodeKey self = NodeKey.of(identity.publicKey());
        WireGuardDevice device = new WireGuardDevice(identity, unused,
                (peer, packet, length) -> receiver.received(NodeKey.of(peer.publicKey()), ByteBuffer.wrap(packet, 0, length)),
                Clock.systemUTC());
        device.setPathSelector(peer -> new PeerPath() {
            private final NodeKey key = NodeKey.of(peer.publicKey());

            @Override
            public PathKind kind() {
                return PathKind.RELAY;
            }

            @Override
            public boolean send(ByteBuffer message) {
                return transmitter.transmit(key, message);
            }
        });
        device.start();
        return new Engine(self, device);
    }

    private static final class Engine implements WireGuardEngine {
        private final NodeKey self;
        private final WireGuardDevice device;

        Engine(NodeKey self, WireGuardDevice device) {
            this.self = self;
            this.device = device;
        }

        @Override
        public NodeKey publicKey() {
            return self;
        }

        @Override
        public synchronized void setPeers(List<OverlayPeer> peers) {
            Set<NodeKey> wanted = new HashSet<>();
            for (OverlayPeer p : peers) {
                if (p.key().equals(self)) {
                    continue;
                }
                wanted.add(p.key());
                Peer existing = device.peer(p.key().toBytes());
                try {
                    if (existing == null) {
                        device.addPeer(p.key().toBytes(), null, p.allowedIps(), null);
                    } else if (!existing.allowedIps().equals(p.allowedIps())) {
                        device.replaceAllowedIps(existing, p.allowedIps());
                    }
                } catch (java.security.GeneralSecurityException | RuntimeException e) {
                    LOG.warn("peer {} left out: {}", p.key(), e.toString());
                }
            }
            for (Peer p : device.peers()) {
                if (!wanted.contains(NodeKey.of(p.publicKey()))) {
                    device.removePeer(p.publicKey());
                }
            }
        }

        @Override
        public void receiveEncrypted(ByteBuffer message) {
            byte[] copy = new byte[message.remaining()];
            message.duplicate().get(copy);
            device.receiveEncrypted(copy, copy.length);
        }

        @Override
        public void receiveEncrypted(NodeKey sender, ByteBuffer message) {
            byte[] copy = new byte[message.remaining()];
            message.duplicate().get(copy);
            device.receiveRelayed(sender.toBytes(), copy, copy.length);
        }

        @Override
        public boolean send(ByteBuffer ipPacket) {
            byte[] copy = new byte[ipPacket.remaining()];
            ipPacket.duplicate().get(copy);
            return device.send(copy, copy.length);
        }

        @Override
        public java.util.Map<String, Long> drops() {
            return device.drops();
        }

        @Override
        public void close() {
            try {
                device.close();
            } catch (IOException e) {
                LOG.debug("closing an embedded WireGuard engine: {}", e.toString());
            }
        }
    }
}
