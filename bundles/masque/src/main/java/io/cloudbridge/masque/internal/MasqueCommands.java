package io.cloudbridge.masque.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

/** Gogo on a relay: {@code masque:tunnels}, what the proxy carries now (CONNECT-UDP tunnels, CONNECT-IP sessions and gateways) and what it refused. */
@Component(service = MasqueCommands.class, property = {"osgi.command.scope=masque", "osgi.command.function=tunnels"})
public final class MasqueCommands {
    private final MasqueProxy proxy;

    @Activate
    public MasqueCommands(@Reference MasqueProxy proxy) {
        this.proxy = proxy;
    }

    public String tunnels() {
        StringBuilder out = new StringBuilder();
        List<UdpTunnel> open = new ArrayList<>(proxy.tunnels);
        out.append(open.size()).append(" CONNECT-UDP tunnels\n");
        if (!open.isEmpty()) {
            out.append(String.format("%-8s %-40s %-28s %10s %10s %-24s %6s%n", "TENANT", "CLIENT", "TARGET", "TO TARGET", "TO CLIENT",
                    "DATAGRAMS/CAPSULES IN,OUT", "AGE"));
            for (UdpTunnel t : open) {
                out.append(String.format("%-8s %-40s %-28s %10d %10d %-24s %5ds%n", t.client().tenant(), t.client().id(), t.asked,
                        t.bytesToTarget.sum(), t.bytesToClient.sum(),
                        t.datagramsIn.sum() + "/" + t.capsulesIn.sum() + ", " + t.datagramsOut.sum() + "/" + t.capsulesOut.sum(),
                        TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - t.openedNanos)));
            }
        }
        List<IpSession> sessions = new ArrayList<>(proxy.ipSessions);
        out.append(sessions.size()).append(" CONNECT-IP sessions\n");
        if (!sessions.isEmpty()) {
            out.append(String.format("%-8s %-40s %-32s %10s %10s %-16s %6s%n", "TENANT", "CLIENT", "ADDRESSES", "PACKETS IN", "OUT",
                    "DATAGRAMS/CAPS", "AGE"));
            for (IpSession s : sessions) {
                io.cloudbridge.api.ipam.Lease l = s.lease;
                out.append(String.format("%-8s %-40s %-32s %10d %10d %-16s %5ds%n", s.client.tenant(), s.client.id(),
                        l == null ? "-" : l.ipv4().getHostAddress() + " " + l.ipv6().getHostAddress(), s.packetsIn.sum(),
                        s.packetsOut.sum(), s.datagramsOut.sum() + "/" + s.capsulesOut.sum(),
                        TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - s.openedNanos)));
            }
        }
        TenantGateways gateways = proxy.gateways;
        if (gateways != null) {
            for (TenantGateways.Gateway g : gateways.gateways()) {
                out.append("gateway of tenant ").append(g.tenant).append(": ").append(g.lease.ipv4().getHostAddress()).append(", key ")
                        .append(g.key).append(", ").append(g.sessionCount()).append(" sessions, packets to nodes ")
                        .append(g.packetsToNodes.sum()).append(", from nodes ").append(g.packetsFromNodes.sum())
                        .append(g.drops().isEmpty() ? "" : ", dropped " + g.drops())
                        .append(g.wireGuardDrops().isEmpty() ? "" : ", WireGuard refused " + g.wireGuardDrops())
                        .append(", the tenant's policy refused ").append(refusals(g.policyDrops())).append('\n');
            }
        }
        Admission.Limits limits = proxy.admission.limits();
        out.append("slots: ").append(proxy.admission.tunnels()).append(" of ").append(limits.tunnels()).append(" tunnels and sessions (")
                .append(limits.reservedTunnels()).append(" kept for tenants holding none), ").append(proxy.admission.resolutions())
                .append(" of ").append(limits.resolutions()).append(" look-ups in flight\n");
        proxy.admission.byTenant().forEach((tenant, held) -> out.append("  tenant ").append(tenant).append(": ").append(held).append('\n'));
        Map<Integer, Long> refused = new TreeMap<>();
        proxy.refusals.forEach((status, n) -> refused.put(status, n.sum()));
        out.append("answered with an error since start: ").append(refused.isEmpty() ? "none" : refused.toString())
                .append("; datagrams dropped: ").append(proxy.drops.describe()).append('\n');
        return out.toString();
    }

    /** The policy filter's non-zero drops, or "nothing". */
    private static String refusals(java.util.Map<String, Long> drops) {
        java.util.Map<String, Long> some = new java.util.TreeMap<>();
        drops.forEach((k, v) -> {
            if (v > 0) {
                some.put(k, v);
            }
        });
        return some.isEmpty() ? "nothing" : some.toString();
    }
}
