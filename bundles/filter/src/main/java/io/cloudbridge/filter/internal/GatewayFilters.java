package io.cloudbridge.filter.internal;

import io.cloudbridge.api.policy.NodeFilter;
import io.cloudbridge.api.policy.StatefulFilters;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Modified;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Filters of their own for those who police packets for others (the relay's CONNECT-IP gateway,
 * for its clients): the node's filter without its file, one connection-tracking table each, sized
 * and timed by the same {@code filter} section, idle flows forgotten by one sweep for all.
 */
// The section's metatype is declared once, by NodeFilterService; this component reads the same PID.
@Component(service = StatefulFilters.class, configurationPid = "cloudbridge.filter")
public final class GatewayFilters implements StatefulFilters {
    private static final Logger LOG = LoggerFactory.getLogger(GatewayFilters.class);
    private static final long SWEEP_SECONDS = 10;

    private final Set<Own> live = ConcurrentHashMap.newKeySet();
    private final ScheduledExecutorService sweeper;
    private volatile FilterConfig config;

    @Activate
    public GatewayFilters(FilterConfig config) {
        this.config = config;
        this.sweeper = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "gateway-filter-sweep");
            t.setDaemon(true);
            return t;
        });
        sweeper.scheduleWithFixedDelay(() -> live.forEach(f -> f.filter.sweep()), SWEEP_SECONDS, SWEEP_SECONDS, TimeUnit.SECONDS);
    }

    @Modified
    void modified(FilterConfig next) {
        this.config = next;
        live.forEach(f -> f.filter.configure(Timeouts.of(next), next.maxFlows()));
    }

    @Deactivate
    void deactivate() {
        sweeper.shutdownNow();
        live.clear();
    }

    @Override
    public Filter create(String name) {
        FilterConfig c = config;
        Own f = new Own(new StatefulFilter(c.maxFlows(), Timeouts.of(c), System::nanoTime, line -> LOG.info("{}: {}", name, line)));
        live.add(f);
        return f;
    }

    private final class Own implements Filter {
        final StatefulFilter filter;

        Own(StatefulFilter filter) {
            this.filter = filter;
        }

        @Override
        public boolean admitInbound(byte[] packet, int offset, int length) {
            return filter.admitInbound(packet, offset, length);
        }

        @Override
        public boolean noteOutbound(byte[] packet, int offset, int length) {
            return filter.noteOutbound(packet, offset, length);
        }

        @Override
        public synchronized void install(NodeFilter next) {
            if (!next.equals(installed())) {
                filter.install(next);
            }
        }

        @Override
        public NodeFilter installed() {
            CompiledFilter inForce = filter.inForce();
            return inForce == null ? null : inForce.filter;
        }

        /** A gateway's filter always comes from the relay's control plane: it fails closed from the start. */
        @Override
        public void expectFromControlPlane() {
        }

        @Override
        public Map<String, Long> drops() {
            Map<String, Long> out = new TreeMap<>();
            for (DropReason r : DropReason.values()) {
                out.put(r.label, filter.drops(r));
            }
            return out;
        }

        @Override
        public void close() {
            live.remove(this);
        }
    }
}
