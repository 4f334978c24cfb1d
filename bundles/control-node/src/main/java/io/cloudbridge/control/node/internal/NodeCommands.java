package io.cloudbridge.control.node.internal;

import io.cloudbridge.api.mesh.PathInfo;
import io.cloudbridge.api.path.PeerPaths;
import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.control.v1.Peer;
import java.io.IOException;
import java.util.Comparator;
import java.util.Locale;
import java.util.Optional;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;

/**
 * {@code cb:whoami} (this node as the relay knows it) and {@code cb:peers} (its tenant's other
 * nodes, and how each is reached: direct or relayed and why, the RTT, the candidate pair).
 */
@Component(service = NodeCommands.class, property = {
    "osgi.command.scope=cb",
    "osgi.command.function=whoami",
    "osgi.command.function=peers"
})
public final class NodeCommands {
    @Reference
    private NodeControlClient control;

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY)
    private volatile PeerPaths paths;

    public String whoami() throws IOException {
        return control.whoami();
    }

    public String peers() {
        StringBuilder out = new StringBuilder(String.format("%-16s %-15s %-7s %9s  %s%n", "HOSTNAME", "ADDRESS", "PATH", "RTT", "DETAIL"));
        PeerPaths pm = paths;
        for (Peer p : control.mapPeers().stream().sorted(Comparator.comparing(Peer::getHostname)).toList()) {
            if (p.getWireguardPublicKey().size() != 32 || control.isSelf(p)) {
                continue;
            }
            Optional<PathInfo> info = pm == null ? Optional.empty() : pm.info(NodeKey.of(p.getWireguardPublicKey().toByteArray()));
            String address = p.getOverlayAddressesList().isEmpty() ? "-" : p.getOverlayAddressesList().get(0).split("/")[0];
            String path = info.map(i -> i.kind().name().toLowerCase(Locale.ROOT)).orElse("none");
            String rtt = info.flatMap(PathInfo::rtt).map(d -> String.format(Locale.ROOT, "%.2f ms", d.toNanos() / 1e6)).orElse("-");
            String detail = info.map(i -> i.candidatePair().or(i::relayedReason).orElse(""))
                    .orElse(pm == null ? "no paths installed" : "unreachable: no relay session");
            out.append(String.format("%-16s %-15s %-7s %9s  %s%n", p.getHostname(), address, path, rtt, detail));
        }
        return out.toString();
    }
}
