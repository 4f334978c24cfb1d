package io.cloudbridge.paths.internal;

import io.cloudbridge.api.mesh.PathInfo;
import io.cloudbridge.api.mesh.PathKind;
import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.api.path.DirectPath;
import io.cloudbridge.api.path.DirectPathSocket;
import io.cloudbridge.api.path.DirectPaths;
import io.cloudbridge.api.path.PathBinding;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The finders of direct paths attached to the paths (hole punching): they get the socket's
 * datagrams that are not WireGuard's, and a path one of them confirmed carries its peer's
 * messages ahead of the relay. Each has a {@link DirectPathSocket} onto the binding of the moment,
 * so that it outlives a re-created interface or socket.
 */
final class DirectFinders implements OverlayBinding.Claims {
    private static final Logger LOG = LoggerFactory.getLogger(DirectFinders.class);
    private final List<DirectPaths> finders = new CopyOnWriteArrayList<>();
    private final Supplier<OverlayBinding> binding;
    private final Supplier<Set<InetAddress>> localAddresses;

    DirectFinders(Supplier<OverlayBinding> binding, Supplier<Set<InetAddress>> localAddresses) {
        this.binding = binding;
        this.localAddresses = localAddresses;
    }

    DirectPathSocket attach(DirectPaths finder) {
        finders.add(finder);
        return new Attachment(finder);
    }

    boolean any() {
        return !finders.isEmpty();
    }

    @Override
    public boolean claim(InetSocketAddress from, ByteBuffer datagram) {
        for (DirectPaths f : finders) {
            try {
                if (f.claims(datagram.duplicate())) {
                    f.receive(from, datagram.duplicate());
                    return true;
                }
            } catch (RuntimeException e) {
                // A finder's bug: the datagram goes on to the engine, which counts it as malformed.
                LOG.debug("a finder of direct paths failed on a datagram from {}: {}", from, e.toString());
            }
        }
        return false;
    }

    /** The first confirmed direct path to {@code peer}, if any finder has one. */
    DirectPath pathTo(NodeKey peer) {
        for (DirectPaths f : finders) {
            try {
                Optional<DirectPath> p = f.pathTo(peer);
                if (p.isPresent()) {
                    return p.get();
                }
            } catch (RuntimeException e) {
                LOG.debug("a finder of direct paths failed to answer for {}: {}", peer, e.toString()); // no direct path, then
            }
        }
        return null;
    }

    /** What the finders know of {@code peer}: a direct path's, else the first finder's reason for none. */
    Optional<PathInfo> info(NodeKey peer) {
        Optional<PathInfo> first = Optional.empty();
        for (DirectPaths f : finders) {
            Optional<PathInfo> i;
            try {
                i = f.info(peer);
            } catch (RuntimeException e) {
                continue;
            }
            if (i.isPresent() && i.get().kind() != PathKind.RELAY) {
                return i;
            }
            if (first.isEmpty()) {
                first = i;
            }
        }
        return first;
    }

    private final class Attachment implements DirectPathSocket {
        private final DirectPaths finder;

        Attachment(DirectPaths finder) {
            this.finder = finder;
        }

        @Override
        public InetSocketAddress localAddress() {
            OverlayBinding b = binding.get();
            return b == null || !b.isOpen() ? null : b.localAddress();
        }

        @Override
        public boolean send(InetSocketAddress to, ByteBuffer datagram) {
            OverlayBinding b = binding.get();
            return b != null && b.isOpen() && b.sendRaw(to, datagram);
        }

        @Override
        public void deliver(ByteBuffer message, PathKind via) {
            OverlayBinding b = binding.get();
            if (b != null) {
                b.deliver(message);
            }
        }

        @Override
        public Set<InetAddress> localAddresses() {
            return localAddresses.get();
        }

        @Override
        public void close() {
            finders.remove(finder);
        }
    }

    /** A direct path's send, as the binding's routes report it. */
    static PathBinding.Sent send(DirectPath path, ByteBuffer message) {
        return path.send(message) ? PathBinding.Sent.SENT : PathBinding.Sent.PATH_REFUSED;
    }
}
