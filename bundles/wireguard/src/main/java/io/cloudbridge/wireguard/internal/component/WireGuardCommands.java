package io.cloudbridge.wireguard.internal.component;

import io.cloudbridge.api.net.IpPrefix;
import io.cloudbridge.wireguard.internal.device.Peer;
import java.io.IOException;
import java.net.InetAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

/** {@code wg:show} and {@code cb:ping}. */
@Component(service = WireGuardCommands.class, property = {
    "osgi.command.scope=wg", "osgi.command.function=show"})
public final class WireGuardCommands {
    @Reference
    private WireGuardService wireguard;

    /** The interface and every peer: endpoint, latest handshake, transfer, keepalive, drops. */
    public String show() {
        StringBuilder out = new StringBuilder();
        var device = wireguard.device();
        out.append("interface: ").append(wireguard.name()).append(wireguard.userspace() ? " (userspace)" : " (tun)")
                .append('\n');
        out.append("  public key: ").append(Base64.getEncoder().encodeToString(device.identity().publicKey())).append('\n');
        out.append("  listening port: ").append(device.listenPort()).append('\n');
        for (Peer p : device.peers()) {
            out.append("\npeer: ").append(Base64.getEncoder().encodeToString(p.publicKey())).append('\n');
            out.append("  endpoint: ").append(p.endpoint() == null ? "(none)" : p.endpoint().getAddress().getHostAddress()
                    + ":" + p.endpoint().getPort()).append('\n');
            out.append("  path: ").append(wireguard.pathOf(p)).append('\n');
            out.append("  link: ").append(wireguard.linkOf(p)).append('\n');
            out.append("  allowed ips: ").append(String.join(", ", p.allowedIps().stream().map(IpPrefix::toString).toList()))
                    .append('\n');
            Instant hs = p.lastHandshake();
            out.append("  latest handshake: ").append(hs == null ? "(none)"
                    : Duration.between(hs, Instant.now()).toSeconds() + " seconds ago").append('\n');
            out.append("  transfer: ").append(p.rxBytes()).append(" B received, ").append(p.txBytes()).append(" B sent\n");
            out.append("  persistent keepalive: ").append(p.persistentKeepalive() == null ? "off"
                    : "every " + p.persistentKeepalive().toSeconds() + " seconds").append('\n');
        }
        Map<String, Long> drops = device.drops();
        if (!drops.isEmpty()) {
            out.append("\ndropped: ").append(drops).append('\n');
        }
        return out.toString();
    }
}
