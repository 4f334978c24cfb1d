package io.cloudbridge.wireguard.internal.component;

import io.cloudbridge.wireguard.internal.device.Peer;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import java.net.Inet4Address;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * The overlay's figures per peer as Micrometer meters, while a registry is there: the path kind
 * ({@code cloudbridge.peer.path}, 1 for the kind in use, 0 for the others), the smoothed RTT,
 * jitter and loss of {@link LinkQuality}'s probes, and bytes and packets both ways as the engine
 * counted them (probes included). Each peer is labelled with its overlay address ({@code peer}).
 *
 * <p>Label cardinality is bounded: at most {@code limit} peers get meters, 12 series each, the
 * first ones seen that are still there; the others are counted in
 * {@code cloudbridge.overlay.peers{listed="false"}} (a large tenant's operator raises the limit,
 * {@code wireguard.peerMetricsLimit}, or reads them with {@code wg:show}). A peer keeps its series
 * while it stays, so that its counters never reset under a scrape.
 */
final class PeerMeters {
    /** The path kinds a peer's {@code cloudbridge.peer.path} series name. */
    static final List<String> PATH_KINDS = List.of("direct", "relay", "turn", "masque", "none");

    private final LinkQuality quality;
    private final Function<Peer, String> pathKind;
    /** The peers with series, in the order they got them, and the label each has them under. */
    private final Map<Peer, Listed> listed = new LinkedHashMap<>();
    private final List<Meter> fixed = new ArrayList<>();
    private volatile List<Peer> current = List.of();
    /** How many peers have series; read by a scrape without this object's lock. */
    private volatile int listedSize;
    private MeterRegistry registry;
    private int limit;

    PeerMeters(LinkQuality quality, Function<Peer, String> pathKind, int limit) {
        this.quality = quality;
        this.pathKind = pathKind;
        this.limit = limit;
    }

    synchronized void bind(MeterRegistry newRegistry) {
        removeAll();
        registry = newRegistry;
        fixed.add(Gauge.builder("cloudbridge.overlay.peers", this, m -> m.current.size() - m.listedCount())
                .tag("listed", "false").description("Overlay peers without per-peer series (over wireguard.peerMetricsLimit)")
                .register(newRegistry));
        fixed.add(Gauge.builder("cloudbridge.overlay.peers", this, PeerMeters::listedCount).tag("listed", "true")
                .description("Overlay peers with per-peer series").register(newRegistry));
        fixed.add(FunctionCounter.builder("cloudbridge.peer.probes", quality, LinkQuality::answeredTotal)
                .tag("outcome", "answered").description("Link probes through the tunnel, all peers").register(newRegistry));
        fixed.add(FunctionCounter.builder("cloudbridge.peer.probes", quality, LinkQuality::lostTotal)
                .tag("outcome", "lost").description("Link probes through the tunnel, all peers").register(newRegistry));
        reconcile(current);
    }

    synchronized void unbind(MeterRegistry goingAway) {
        if (registry == goingAway) {
            removeAll();
            registry = null;
        }
    }

    synchronized void limit(int newLimit) {
        limit = newLimit;
        reconcile(current);
    }

    /** A listed peer's label and meters. */
    private record Listed(String label, List<Meter> meters) {
    }

    /**
     * The device's peers now: meters for new ones (within the limit), none left for those gone,
     * new ones for a peer whose address changed (a new lease). A peer whose label another listed
     * peer still holds (addresses swapped between two peers) waits for the next round: one series
     * id is one meter, and two peers must not share it.
     */
    synchronized void reconcile(List<Peer> peers) {
        current = List.copyOf(peers);
        if (registry == null) {
            return;
        }
        java.util.Set<Peer> present = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        present.addAll(current);
        listed.entrySet().removeIf(e -> {
            boolean drop = !present.contains(e.getKey()) || !e.getValue().label().equals(label(e.getKey()));
            if (drop) {
                e.getValue().meters().forEach(registry::remove);
            }
            return drop;
        });
        while (listed.size() > limit) { // the limit came down: the newest go first
            Peer last = null;
            for (Peer p : listed.keySet()) {
                last = p;
            }
            listed.remove(last).meters().forEach(registry::remove);
        }
        java.util.Set<String> labels = new java.util.HashSet<>();
        listed.values().forEach(l -> labels.add(l.label()));
        for (Peer peer : current) {
            if (listed.size() >= limit) {
                break;
            }
            String label = label(peer);
            if (!listed.containsKey(peer) && labels.add(label)) {
                listed.put(peer, new Listed(label, register(peer, label)));
            }
        }
        listedSize = listed.size();
    }

    private int listedCount() {
        return listedSize;
    }

    private List<Meter> register(Peer peer, String label) {
        List<Meter> meters = new ArrayList<>();
        for (String kind : PATH_KINDS) {
            meters.add(Gauge.builder("cloudbridge.peer.path", peer, p -> kind.equals(pathKind.apply(p)) ? 1 : 0)
                    .tags("peer", label, "kind", kind).strongReference(true)
                    .description("The path a peer's packets take now: 1 for the kind in use").register(registry));
        }
        meters.add(linkGauge("cloudbridge.peer.rtt", peer, label, LinkQuality.PeerLink::rttSeconds,
                "Smoothed round-trip time through the tunnel on the path in use"));
        meters.add(linkGauge("cloudbridge.peer.jitter", peer, label, LinkQuality.PeerLink::jitterSeconds,
                "Variation of the round-trip time between consecutive probes (RFC 3550)"));
        meters.add(Gauge.builder("cloudbridge.peer.loss.ratio", peer,
                        p -> quality.link(p).map(LinkQuality.PeerLink::lossRatio).orElse(Double.NaN))
                .tag("peer", label).strongReference(true)
                .description("Share of the last " + LinkQuality.LOSS_WINDOW + " link probes left unanswered")
                .register(registry));
        meters.add(counter("cloudbridge.peer.sent.bytes", peer, label, Peer::txBytes, "Bytes sent to the peer (inner packets)"));
        meters.add(counter("cloudbridge.peer.received.bytes", peer, label, Peer::rxBytes,
                "Bytes received from the peer (inner packets)"));
        meters.add(counter("cloudbridge.peer.sent.packets", peer, label, Peer::txPackets, "Packets sent to the peer"));
        meters.add(counter("cloudbridge.peer.received.packets", peer, label, Peer::rxPackets,
                "Packets received from the peer"));
        return meters;
    }

    private Meter linkGauge(String name, Peer peer, String label, java.util.function.ToDoubleFunction<LinkQuality.PeerLink> figure,
            String description) {
        return Gauge.builder(name, peer, p -> quality.link(p).map(figure::applyAsDouble).orElse(Double.NaN))
                .tag("peer", label).baseUnit("seconds").strongReference(true).description(description).register(registry);
    }

    private Meter counter(String name, Peer peer, String label, java.util.function.ToDoubleFunction<Peer> figure,
            String description) {
        return FunctionCounter.builder(name, peer, figure).tag("peer", label).description(description).register(registry);
    }

    /** The peer's overlay address; a peer with none (a hand-configured subnet peer) is named by its key's start. */
    static String label(Peer peer) {
        return LinkQuality.hostAddress(peer).map(Inet4Address::getHostAddress)
                .orElseGet(() -> "key:" + Base64.getEncoder().encodeToString(peer.publicKey()).substring(0, 8));
    }

    private void removeAll() {
        if (registry != null) {
            fixed.forEach(registry::remove);
            listed.values().forEach(l -> l.meters().forEach(registry::remove));
        }
        fixed.clear();
        listed.clear();
        listedSize = 0;
    }
}
