package io.cloudbridge.wireguard.internal.device;

import io.cloudbridge.api.net.IpPrefix;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.InvalidKeyException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * WireGuard's cross-platform configuration protocol ({@code get=1}, {@code set=1}) on
 * {@code /var/run/wireguard/<iface>.sock}, so that the stock {@code wg} tool shows and changes this
 * engine as it does any other: {@code wg show}, {@code wg set <iface> peer ...}.
 */
public final class UapiServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(UapiServer.class);
    /** A request larger than this is refused: a set for thousands of peers still fits. */
    static final int MAX_REQUEST_BYTES = 1 << 20;
    private static final int EINVAL = 22;
    private static final int EPROTO = 71;
    private static final HexFormat HEX = HexFormat.of();

    private final WireGuardDevice device;
    private final Path socket;
    private final ServerSocketChannel server;
    private final Thread acceptor;

    public UapiServer(WireGuardDevice device, Path socketDirectory, String iface) throws IOException {
        this.device = device;
        Files.createDirectories(socketDirectory);
        this.socket = socketDirectory.resolve(iface + ".sock");
        Files.deleteIfExists(socket);
        server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(socket));
        Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rw-------"));
        acceptor = new Thread(this::accept, "wireguard-uapi-" + iface);
        acceptor.setDaemon(true);
        acceptor.start();
    }

    public Path socket() {
        return socket;
    }

    private void accept() {
        while (true) {
            try (SocketChannel c = server.accept()) {
                serve(c);
            } catch (ClosedChannelException closed) {
                return;
            } catch (IOException | RuntimeException e) {
                LOG.debug("UAPI connection ended: {}", e.toString());
            }
        }
    }

    /** One connection: requests until the client closes. */
    private void serve(SocketChannel c) throws IOException {
        RequestReader reader = new RequestReader(c);
        while (true) {
            String op = reader.line();
            if (op == null) {
                return;
            }
            if (op.equals("get=1")) {
                if (!reader.blankLine()) {
                    reply(c, "errno=" + EPROTO + "\n\n");
                    return;
                }
                reply(c, get());
            } else if (op.equals("set=1")) {
                List<String> lines = new ArrayList<>();
                String l;
                while ((l = reader.line()) != null && !l.isEmpty()) {
                    lines.add(l);
                }
                if (l == null) {
                    return; // cut off mid-request: apply nothing
                }
                reply(c, "errno=" + set(lines) + "\n\n");
            } else {
                reply(c, "errno=" + EPROTO + "\n\n");
                return;
            }
        }
    }

    private static void reply(SocketChannel c, String text) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(text.getBytes(StandardCharsets.US_ASCII));
        while (b.hasRemaining()) {
            c.write(b);
        }
    }

    String get() {
        StringBuilder sb = new StringBuilder();
        sb.append("private_key=").append(HEX.formatHex(device.identity().privateKeyForExport())).append('\n');
        sb.append("listen_port=").append(device.listenPort()).append('\n');
        for (Peer p : device.peers()) {
            sb.append("public_key=").append(HEX.formatHex(p.publicKey)).append('\n');
            sb.append("preshared_key=").append(HEX.formatHex(p.presharedKey)).append('\n');
            sb.append("protocol_version=1\n");
            InetSocketAddress e = p.endpoint;
            if (e != null) {
                String host = e.getAddress().getHostAddress();
                sb.append("endpoint=").append(host.contains(":") ? "[" + host + "]" : host).append(':').append(e.getPort())
                        .append('\n');
            }
            Instant hs = p.lastHandshakeCompleted;
            sb.append("last_handshake_time_sec=").append(hs == null ? 0 : hs.getEpochSecond()).append('\n');
            sb.append("last_handshake_time_nsec=").append(hs == null ? 0 : hs.getNano()).append('\n');
            sb.append("tx_bytes=").append(p.txBytes()).append('\n');
            sb.append("rx_bytes=").append(p.rxBytes()).append('\n');
            Duration k = p.persistentKeepalive;
            sb.append("persistent_keepalive_interval=").append(k == null ? 0 : k.toSeconds()).append('\n');
            for (IpPrefix prefix : p.allowedIps) {
                sb.append("allowed_ip=").append(prefix.address().getHostAddress()).append('/').append(prefix.length())
                        .append('\n');
            }
        }
        return sb.append("errno=0\n\n").toString();
    }

    /** One peer section of a set request, parsed and checked. */
    private static final class PeerChange {
        final byte[] key;
        boolean remove;
        boolean updateOnly;
        byte[] presharedKey;
        InetSocketAddress endpoint;
        Integer keepaliveSeconds;
        boolean replaceAllowedIps;
        final List<IpPrefix> allowedIps = new ArrayList<>();

        PeerChange(byte[] key) {
            this.key = key;
        }
    }

    /**
     * Applies a set request. Everything is parsed and checked first (keys, addresses, prefixes,
     * numbers); only a request that passes whole changes anything.
     *
     * @return 0, or an errno
     */
    synchronized int set(List<String> lines) {
        boolean replacePeers = false;
        List<PeerChange> changes = new ArrayList<>();
        PeerChange current = null;
        try {
            for (String line : lines) {
                int eq = line.indexOf('=');
                if (eq <= 0) {
                    return EINVAL;
                }
                String key = line.substring(0, eq);
                String value = line.substring(eq + 1);
                switch (key) {
                    case "private_key" -> {
                        if (!HEX.formatHex(device.identity().privateKeyForExport()).equals(value)) {
                            return EINVAL; // the identity is the node's; it is not replaced over UAPI
                        }
                    }
                    case "listen_port" -> {
                        if (Integer.parseInt(value) != device.listenPort()) {
                            return EINVAL; // the socket belongs to the paths (shared with NAT traversal), bound from the wireguard section
                        }
                    }
                    case "fwmark" -> Integer.parseInt(value);
                    case "protocol_version" -> {
                        if (!value.equals("1")) {
                            return EINVAL;
                        }
                    }
                    case "replace_peers" -> replacePeers = flag(value);
                    case "public_key" -> {
                        byte[] pk = key32(value);
                        device.checkPeerKey(pk);
                        current = new PeerChange(pk);
                        changes.add(current);
                    }
                    case "remove" -> requirePeer(current).remove = flag(value);
                    case "update_only" -> requirePeer(current).updateOnly = flag(value);
                    case "preshared_key" -> requirePeer(current).presharedKey = key32(value);
                    case "endpoint" -> requirePeer(current).endpoint = endpoint(value);
                    case "persistent_keepalive_interval" -> {
                        int seconds = Integer.parseInt(value);
                        if (seconds < 0 || seconds > 65535) {
                            return EINVAL;
                        }
                        requirePeer(current).keepaliveSeconds = seconds;
                    }
                    case "replace_allowed_ips" -> requirePeer(current).replaceAllowedIps = flag(value);
                    case "allowed_ip" -> requirePeer(current).allowedIps.add(IpPrefix.parse(value));
                    default -> {
                        return EINVAL;
                    }
                }
            }
        } catch (IllegalArgumentException | InvalidKeyException e) {
            return EINVAL;
        }
        if (replacePeers) {
            device.peers().forEach(p -> device.removePeer(p.publicKey));
        }
        for (PeerChange c : changes) {
            Peer peer = device.peer(c.key);
            if (c.remove) {
                device.removePeer(c.key);
                continue;
            }
            if (peer == null) {
                if (c.updateOnly) {
                    continue;
                }
                try {
                    peer = device.addPeer(c.key, c.presharedKey, List.of(), c.endpoint);
                } catch (InvalidKeyException checkedAbove) {
                    return EINVAL;
                }
            } else if (c.presharedKey != null) {
                device.setPresharedKey(peer, c.presharedKey);
            }
            if (c.endpoint != null) {
                peer.endpoint = c.endpoint;
            }
            if (c.keepaliveSeconds != null) {
                peer.setPersistentKeepalive(c.keepaliveSeconds == 0 ? null : Duration.ofSeconds(c.keepaliveSeconds));
            }
            if (c.replaceAllowedIps) {
                device.replaceAllowedIps(peer, List.of());
            }
            for (IpPrefix prefix : c.allowedIps) {
                device.addAllowedIp(peer, prefix);
            }
        }
        return 0;
    }

    private static boolean flag(String value) {
        if (!value.equals("true") && !value.equals("false")) {
            throw new IllegalArgumentException("expected true or false");
        }
        return value.equals("true");
    }

    private static PeerChange requirePeer(PeerChange current) {
        if (current == null) {
            throw new IllegalArgumentException("a peer's public_key must come first");
        }
        return current;
    }

    private static byte[] key32(String hex) {
        if (hex.length() != 64) {
            throw new IllegalArgumentException("a key is 64 hex digits");
        }
        return HEX.parseHex(hex);
    }

    /** {@code 1.2.3.4:51820} or {@code [fd00::1]:51820}; never a name lookup. */
    public static InetSocketAddress endpoint(String text) {
        int colon = text.lastIndexOf(':');
        if (colon <= 0) {
            throw new IllegalArgumentException("endpoint needs a port");
        }
        String host = text.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        if (!IpPrefix.isAddressLiteral(host)) {
            throw new IllegalArgumentException("endpoint must be an address"); // never a name lookup
        }
        int port = Integer.parseInt(text.substring(colon + 1));
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("port out of range");
        }
        try {
            return new InetSocketAddress(InetAddress.getByName(host), port);
        } catch (IOException e) {
            throw new IllegalArgumentException(e);
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
        Files.deleteIfExists(socket);
    }

    /** Reads lines, refusing a request larger than {@link #MAX_REQUEST_BYTES}. */
    private static final class RequestReader {
        private final SocketChannel c;
        private final ByteBuffer buf = ByteBuffer.allocate(4096);
        private final StringBuilder line = new StringBuilder();
        private int total;

        RequestReader(SocketChannel c) {
            this.c = c;
            buf.flip();
        }

        /** The next line without its newline; {@code null} at the end of the stream. */
        String line() throws IOException {
            line.setLength(0);
            while (true) {
                if (!buf.hasRemaining()) {
                    buf.clear();
                    int n = c.read(buf);
                    buf.flip();
                    if (n < 0) {
                        return null;
                    }
                }
                byte b = buf.get();
                if (++total > MAX_REQUEST_BYTES) {
                    throw new IOException("UAPI request too large");
                }
                if (b == '\n') {
                    String s = line.toString();
                    total = line.length() == 0 ? 0 : total; // a blank line ends a request
                    return s;
                }
                if (b < 0x20 || b > 0x7e) {
                    throw new IOException("UAPI request is not printable ASCII");
                }
                line.append((char) b);
            }
        }

        boolean blankLine() throws IOException {
            String l = line();
            return l != null && l.isEmpty();
        }
    }
}
