package io.cloudbridge.wireguard.internal.engine;

import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.api.overlay.OverlayPeer;
import io.cloudbridge.api.overlay.WireGuardEngine;
import io.cloudbridge.api.overlay.WireGuardEngines;
import io.cloudbridge.wireguard.internal.device.Peer;
import io.cloudbridge.wireguard.internal.device.WireGuardDevice;
import io.cloudbridge.wireguard.internal.noise.Identity;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Clock;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.osgi.service.component.annotations.Component;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * WireGuard engines for parts of the daemon that are overlay peers themselves (the relay's
 * CONNECT-IP gateway): the same userspace device as the node's interface, bound to
 * {@link TransmitterPaths}: every peer is reached through the owner's transmitter, and there is
 * no socket.
 */
@Component(service = WireGuardEngines.class)
public final class EmbeddedEngines implements WireGuardEngines {
    private static final Logger LOG = LoggerFactory.getLogger(EmbeddedEngines.class);

    @Override
    public WireGuardEngine create(byte[] privateKey, WireGuardEngine.Transmitter transmitter, WireGuardEngine.Receiver receiver)
            throws IOException {
        Identity identity = new Identity(privateKey);
        TransmitterPaths paths = new TransmitterPaths(transmitter);
        WireGuardDevice device = new WireGuardDevice(identity, paths,
                (peer, packet, length) -> receiver.received(NodeKey.of(peer.publicKey()), ByteBuffer.wrap(packet, 0, length)),
                Clock.systemUTC());
        device.start();
        return new Engine(NodeKey.of(identity.publicKey()), device, paths);
    }

    private static final class Engine implements WireGuardEngine {
        private final NodeKey self;
        private final WireGuardDevice device;
        private final TransmitterPaths paths;

        Engine(NodeKey self, WireGuardDevice device, TransmitterPaths paths) {
            this.self = self;
            this.device = device;
            this.paths = paths;
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
            paths.arrived(message);
        }

        @Override
        public void receiveEncrypted(NodeKey sender, ByteBuffer message) {
            paths.relayed(sender, message);
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
