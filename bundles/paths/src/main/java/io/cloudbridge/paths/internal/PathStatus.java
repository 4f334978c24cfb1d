package io.cloudbridge.paths.internal;

import io.cloudbridge.api.transport.HomeRelay;
import io.cloudbridge.api.transport.PacketSession;
import io.cloudbridge.api.transport.RelayEndpoint;
import io.cloudbridge.api.transport.RelayTransport;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The path layer described for operators: the text of {@code cb:paths}, {@code transport:list}
 * and {@code cb:relays}. It reads what the caller passes and changes nothing, so the commands may
 * call it from their own thread.
 */
final class PathStatus {
    private PathStatus() {
    }

    /** A line per transport for cb:paths. */
    static List<String> describe(RelayAttempt active, String lastChange, List<RelayTransport> transports,
            Map<RelayTransport, RelayAttempt> attempts) {
        List<String> out = new ArrayList<>();
        out.add("relay path: " + (active == null ? "none" : active.transport.name()) + " (" + lastChange + ")");
        for (RelayTransport t : transports) {
            RelayAttempt at = attempts.get(t);
            PacketSession s = at == null ? null : at.session;
            out.add(String.format("  %-10s priority %3d  %s", t.name(), t.priority(),
                    s == null ? (at == null ? "idle" : "connecting") : s.state().name().toLowerCase(java.util.Locale.ROOT) + ", "
                            + s.counters().packetsSent() + " sent, " + s.counters().packetsReceived() + " received, "
                            + s.counters().packetsDropped() + " dropped" + dropReasons(s.counters())));
        }
        io.cloudbridge.api.net.UdpBufferDrops.read().ifPresent(k -> out.add("  " + k.describe()));
        return out;
    }

    /** " (queue full 3, too large 1)", or nothing when nothing was dropped. */
    static String dropReasons(io.cloudbridge.api.transport.TransportCounters counters) {
        if (counters.dropsByReason().isEmpty()) {
            return "";
        }
        StringBuilder out = new StringBuilder(" (");
        counters.dropsByReason().forEach((reason, n) -> out.append(out.length() > 2 ? ", " : "").append(reason).append(' ').append(n));
        return out.append(')').toString();
    }

    /** transport:list: each installed transport, its session to the home relay, and what went through it. */
    static List<String> transportTable(RelayAttempt in, List<RelayTransport> transports, Map<RelayTransport, RelayAttempt> attempts) {
        List<String> out = new ArrayList<>();
        out.add(String.format("%-10s %4s %-13s %-28s %9s %6s %10s %12s %10s %12s %8s", "TRANSPORT", "PRIO", "STATE", "RELAY",
                "RTT ms", "MTU", "PKTS OUT", "BYTES OUT", "PKTS IN", "BYTES IN", "DROPS"));
        List<RelayTransport> sorted = new ArrayList<>(transports);
        sorted.sort(TransportRace.BEST_FIRST);
        for (RelayTransport t : sorted) {
            RelayAttempt a = attempts.get(t);
            PacketSession s = a == null ? null : a.session;
            String state = s == null ? (a == null ? "idle" : "connecting") : s.state().name().toLowerCase(java.util.Locale.ROOT);
            if (in != null && in.transport == t && a != null && a.connected()) {
                state = state + " *";
            }
            var c = s == null ? io.cloudbridge.api.transport.TransportCounters.ZERO : s.counters();
            out.add(String.format(java.util.Locale.ROOT, "%-10s %4d %-13s %-28s %9s %6s %10d %12d %10d %12d %8d", t.name(),
                    t.priority(), state, s == null ? "-" : s.relay().uri().toString(),
                    s == null ? "-" : s.rtt().map(d -> String.format(java.util.Locale.ROOT, "%.2f", d.toNanos() / 1e6)).orElse("-"),
                    s == null ? "-" : String.valueOf(s.maxPacketSize()), c.packetsSent(), c.bytesSent(), c.packetsReceived(),
                    c.bytesReceived(), c.packetsDropped()));
        }
        out.add("* carries the peers now; MTU: the largest WireGuard packet the session takes");
        return out;
    }

    /** cb:relays: the home relay, where its transports listen, and the pinned certificate. */
    static List<String> relayTable(HomeRelay relay, RelayAttempt a) {
        if (relay == null) {
            return List.of("no home relay (not registered)");
        }
        List<String> out = new ArrayList<>();
        String pin = relay.endpoints().stream().map(e -> e.certificateSha256().orElse("")).filter(p -> !p.isEmpty()).findFirst()
                .orElse("(none)");
        String name = relay.endpoints().isEmpty() ? "-" : relay.endpoints().get(0).name();
        out.add(String.format("%-24s home, over %s; certificate %s", name, a == null ? "nothing yet" : a.transport.name(), pin));
        for (RelayEndpoint e : relay.endpoints()) {
            out.add("  " + e.uri());
        }
        return out;
    }
}
