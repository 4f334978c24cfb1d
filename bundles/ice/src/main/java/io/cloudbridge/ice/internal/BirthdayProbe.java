package io.cloudbridge.ice.internal;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The hard side of birthday-paradox probing (as Tailscale describes it): a node whose NAT maps
 * each destination to another public port opens many sockets and sends a check from each to the
 * peer, so that its NAT holds that many mappings toward the peer; the peer, whose NAT maps
 * endpoint-independently, sends checks to random ports of this node's public address. With 256
 * mappings and 1,024 probes over the 64,512 ports a NAT may pick, one probe lands on a mapping
 * with a probability of 1 - (1 - 256/64512)^1024, about 98 %. The socket it lands on becomes the
 * base of the pair ICE then selects; the others are closed.
 *
 * <p>One reader thread serves all the sockets; what they receive goes to the engine as datagrams
 * of another base.
 */
final class BirthdayProbe implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(BirthdayProbe.class);

    /** What a probing socket received, for the engine. */
    interface Receiver {
        void receive(ProbeSocket on, InetSocketAddress from, ByteBuffer datagram);
    }

    /** One of the sockets: a base of its own for the pairs that form on it. */
    final class ProbeSocket implements IceEngine.Base {
        final DatagramChannel channel;
        final int port;

        ProbeSocket(DatagramChannel channel) throws IOException {
            this.channel = channel;
            this.port = ((InetSocketAddress) channel.getLocalAddress()).getPort();
        }

        @Override
        public boolean send(InetSocketAddress to, ByteBuffer datagram) {
            try {
                return channel.send(datagram.duplicate(), to) > 0;
            } catch (IOException | RuntimeException e) {
                return false; // closed meanwhile: the pair's consent runs out
            }
        }

        @Override
        public io.cloudbridge.api.mesh.PathKind kind() {
            return io.cloudbridge.api.mesh.PathKind.DIRECT;
        }

        @Override
        public String describe() {
            return "prflx (birthday socket :" + port + ")";
        }
    }

    private final Selector selector;
    private final List<ProbeSocket> sockets = new ArrayList<>();
    private final Thread reader;
    private volatile ProbeSocket kept;

    /** Opens {@code count} sockets of the peer's address family on ephemeral ports. */
    BirthdayProbe(int count, boolean ipv4, Receiver receiver) throws IOException {
        selector = Selector.open();
        try {
            for (int i = 0; i < count; i++) {
                DatagramChannel c = DatagramChannel.open(ipv4 ? StandardProtocolFamily.INET : StandardProtocolFamily.INET6);
                c.bind(null);
                c.configureBlocking(false);
                ProbeSocket s = new ProbeSocket(c);
                c.register(selector, SelectionKey.OP_READ, s);
                sockets.add(s);
            }
        } catch (IOException | RuntimeException e) {
            close();
            throw e;
        }
        reader = new Thread(() -> read(receiver), "ice-birthday");
        reader.setDaemon(true);
        reader.start();
    }

    List<ProbeSocket> sockets() {
        return sockets;
    }

    boolean owns(IceEngine.Base base) {
        return base instanceof ProbeSocket s && sockets.contains(s);
    }

    /** The probe found a path on {@code winner}: the other sockets close, it stays for the path's life. */
    void keepOnly(ProbeSocket winner) {
        if (kept == winner) {
            return;
        }
        kept = winner;
        for (ProbeSocket s : sockets) {
            if (s != winner) {
                closeQuietly(s.channel);
            }
        }
        LOG.info("birthday probing found a path on local port {}: {} other sockets closed", winner.port, sockets.size() - 1);
    }

    boolean found() {
        return kept != null;
    }

    private void read(Receiver receiver) {
        ByteBuffer buffer = ByteBuffer.allocate(65_536);
        while (selector.isOpen()) {
            try {
                selector.select();
                if (!selector.isOpen()) {
                    return;
                }
                for (var it = selector.selectedKeys().iterator(); it.hasNext(); ) {
                    SelectionKey key = it.next();
                    it.remove();
                    ProbeSocket s = (ProbeSocket) key.attachment();
                    for (int i = 0; i < 64; i++) { // a few datagrams per wake-up, then the others' turn
                        buffer.clear();
                        InetSocketAddress from = (InetSocketAddress) s.channel.receive(buffer);
                        if (from == null) {
                            break;
                        }
                        buffer.flip();
                        receiver.receive(s, from, buffer);
                    }
                }
            } catch (java.nio.channels.ClosedSelectorException | java.nio.channels.ClosedChannelException closed) {
                if (!selector.isOpen()) {
                    return;
                }
            } catch (IOException | RuntimeException e) {
                if (!selector.isOpen()) {
                    return;
                }
                LOG.debug("birthday probing's reader: {}", e.toString());
            }
        }
    }

    @Override
    public void close() {
        try {
            selector.close();
        } catch (IOException ignored) {
            // closing anyway
        }
        sockets.forEach(s -> closeQuietly(s.channel));
    }

    private static void closeQuietly(DatagramChannel c) {
        try {
            c.close();
        } catch (IOException ignored) {
            // closing anyway
        }
    }
}
