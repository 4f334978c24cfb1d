package io.cloudbridge.wireguard.internal.component;

import io.cloudbridge.api.net.IpPrefix;
import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.wireguard.internal.device.Peer;
import java.io.IOException;
import java.net.InetAddress;
import java.time.Duration;
import java.util.Arrays;
import java.util.Locale;
import java.util.Optional;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

/** {@code cb:ping PEER [COUNT]}: ICMP echoes through the tunnel, with their round-trip times. */
@Component(service = PingCommand.class, property = {"osgi.command.scope=cb", "osgi.command.function=ping"})
public final class PingCommand {
    @Reference
    private WireGuardService wireguard;

    public String ping(String peer) throws IOException {
        return ping(peer, 3);
    }

    /**
     * @param peer an overlay address, or a peer's public key (its first single-address allowed IP)
     */
    public String ping(String peer, int count) throws IOException {
        if (count < 1 || count > 100) {
            throw new IllegalArgumentException("count is 1..100");
        }
        InetAddress target = resolve(peer);
        StringBuilder out = new StringBuilder();
        int received = 0;
        for (int i = 1; i <= count; i++) {
            Optional<Duration> rtt = wireguard.ping(target, Duration.ofSeconds(2));
            if (rtt.isPresent()) {
                received++;
                out.append(String.format(Locale.ROOT, "reply from %s: seq=%d time=%.2f ms path=%s%n",
                        target.getHostAddress(), i, rtt.get().toNanos() / 1e6, wireguard.pathTo(target)));
            } else {
                out.append("no reply from ").append(target.getHostAddress()).append(": seq=").append(i).append('\n');
            }
        }
        out.append(count).append(" sent, ").append(received).append(" received\n");
        if (received == 0) {
            throw new IOException(out + "no reply from " + target.getHostAddress());
        }
        return out.toString();
    }

    private InetAddress resolve(String peer) throws IOException {
        if (peer.length() == 44 && peer.endsWith("=")) {
            byte[] key = NodeKey.parse(peer).toBytes();
            for (Peer p : wireguard.device().peers()) {
                if (Arrays.equals(p.publicKey(), key)) {
                    for (IpPrefix prefix : p.allowedIps()) {
                        if (prefix.length() == prefix.address().getAddress().length * 8) {
                            return prefix.address();
                        }
                    }
                    throw new IOException("peer " + peer + " has no single-address allowed IP to ping");
                }
            }
            throw new IOException("no peer with key " + peer);
        }
        try {
            return IpPrefix.parse(peer).address();
        } catch (IllegalArgumentException e) {
            throw new IOException("'" + peer + "' is neither an overlay address nor a peer key");
        }
    }
}
