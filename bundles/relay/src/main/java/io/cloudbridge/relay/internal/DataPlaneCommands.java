package io.cloudbridge.relay.internal;

import io.cloudbridge.api.relay.ForwardResult;
import java.util.Map;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

/** {@code relay:sessions}: the nodes connected to the data plane, and what became of their packets. */
@Component(service = DataPlaneCommands.class, property = {
    "osgi.command.scope=relay",
    "osgi.command.function=sessions"
})
public final class DataPlaneCommands {
    @Reference
    private TenantSwitch packetSwitch;

    private static String rate(double perSecond) {
        return Double.isInfinite(perSecond) ? "unlimited" : String.format("%.0f", perSecond);
    }

    public String sessions() {
        StringBuilder out = new StringBuilder(String.format("%-20s %-36s %-10s %10s %10s %8s %8s%n", "TENANT", "NODE", "TRANSPORT",
                "SENT", "RECEIVED", "DROPPED", "AGE s"));
        long now = System.nanoTime();
        StringBuilder drops = new StringBuilder();
        for (TenantSwitch.Port p : packetSwitch.ports()) {
            // RECEIVED counts what the switch handed the node's session; DROPPED, what that session's queue lost after.
            Map<String, Long> dropped = p.sink.drops();
            long total = dropped.values().stream().mapToLong(Long::longValue).sum();
            out.append(String.format("%-20s %-36s %-10s %10d %10d %8d %8d%n", p.node().tenant(), p.node().nodeId(), p.transport,
                    p.sent.sum(), p.received.sum(), total, (now - p.attachedNanos) / 1_000_000_000L));
            if (total > 0) {
                drops.append("dropped for ").append(p.node().nodeId()).append(':');
                dropped.forEach((reason, n) -> drops.append(' ').append(reason).append(' ').append(n));
                drops.append('\n');
            }
        }
        out.append(drops);
        out.append("packets:");
        for (Map.Entry<ForwardResult, Long> e : packetSwitch.outcomes().entrySet()) {
            out.append(' ').append(e.getKey().name().toLowerCase(java.util.Locale.ROOT)).append('=').append(e.getValue());
        }
        out.append("; bytes forwarded: ").append(packetSwitch.bytesForwarded()).append('\n');
        io.cloudbridge.api.net.UdpBufferDrops.read().ifPresent(k -> out.append(k.describe()).append('\n'));
        // Each tenant's part of the relay as last divided, against what it tried to send.
        for (FairShare.Tenant t : packetSwitch.rates().tenants().values()) {
            out.append(String.format("tenant %s: sends %.0f packets/s, %.0f bytes/s; its part %s packets/s, %s bytes/s%n", t.name,
                    t.meter.demandPackets(), t.meter.demandBytes(), rate(t.partPackets), rate(t.partBytes)));
        }
        return out.toString();
    }
}
