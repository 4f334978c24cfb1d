package io.cloudbridge.masque.internal;

import io.cloudbridge.api.tunnel.TunnelInfo;
import io.cloudbridge.api.tunnel.TunnelService;
import java.io.IOException;
import java.util.List;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

/** Gogo: {@code tunnel:udp LOCAL_PORT HOST:PORT}, {@code tunnel:list}, {@code tunnel:close ID}. */
@Component(service = TunnelCommands.class, property = {"osgi.command.scope=tunnel", "osgi.command.function=udp",
    "osgi.command.function=list", "osgi.command.function=close"})
public final class TunnelCommands {
    private final TunnelService tunnels;

    @Activate
    public TunnelCommands(@Reference TunnelService tunnels) {
        this.tunnels = tunnels;
    }

    /** Listens on local UDP {@code localPort} (0: any) and forwards to {@code target} (HOST:PORT, [v6]:PORT) through CONNECT-UDP. */
    public String udp(int localPort, String target) throws IOException {
        int colon = target.lastIndexOf(':');
        if (colon <= 0 || colon == target.length() - 1) {
            throw new IllegalArgumentException("the target is HOST:PORT (an IPv6 address in brackets): " + target);
        }
        String host = target.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        int port;
        try {
            port = Integer.parseInt(target.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not a port: " + target.substring(colon + 1));
        }
        TunnelInfo t = tunnels.openUdp(localPort, host, port);
        return "tunnel " + t.id() + ": UDP " + t.local().getAddress().getHostAddress() + ":" + t.local().getPort() + " -> " + t.target()
                + " (CONNECT-UDP)\n";
    }

    public String list() {
        List<TunnelInfo> all = tunnels.tunnels();
        if (all.isEmpty()) {
            return "no tunnels\n";
        }
        StringBuilder out = new StringBuilder(String.format("%-6s %-12s %-22s %-28s %-8s %12s %12s%n", "ID", "KIND", "LOCAL", "TARGET",
                "STATE", "SENT", "RECEIVED"));
        for (TunnelInfo t : all) {
            out.append(String.format("%-6s %-12s %-22s %-28s %-8s %12d %12d%n", t.id(), t.kind(),
                    t.local() == null ? "-" : t.local().getAddress().getHostAddress() + ":" + t.local().getPort(), t.target(),
                    t.state(), t.bytesSent(), t.bytesReceived()));
        }
        return out.toString();
    }

    public String close(String id) {
        return tunnels.close(id) ? "tunnel " + id + " closed\n" : "no tunnel " + id + "\n";
    }
}
