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
        StringBuilder out = new StringBuilder(String.format("%-20s %-36s %-10s %10s %10s %8s%n", "TENANT", "NODE", "TRANSPORT",
                "SENT", "RECEIVED", "AGE s"));
        long now = System.nanoTime();
        for (TenantSwitch.Port p : packetSwitch.ports()) {
            out.append(String.format("%-20s %-36s %-10s %10d %10d %8d%n", p.node().tenant(), p.node().nodeId(), p.transport,
                    p.sent.sum(), p.received.sum(), (now - p.attachedNanos) / 1_000_000_000L));
        }
        out.append("packets:");
        for (Map.Entry<ForwardResult, Long> e : packetSwitch.outcomes().entrySet()) {
            out.append(' ').append(e.getKey().name().toLowerCase(java.util.Locale.ROOT)).append('=').append(e.getValue());
        }
        out.append("; bytes forwarded: ").append(packetSwitch.bytesForwarded()).append('\n');
        // Each tenant's part of the relay as last divided, against what it tried to send.
        for (FairShare.Tenant t : packetSwitch.rates().tenants().values()) {
            out.append(String.format("tenant %s: sends %.0f packets/s, %.0f bytes/s; its part %s packets/s, %s bytes/s%n", t.name,
                    t.meter.demandPackets(), t.meter.demandBytes(), rate(t.partPackets), rate(t.partBytes)));
        }
        return out.toString();
    }
}
