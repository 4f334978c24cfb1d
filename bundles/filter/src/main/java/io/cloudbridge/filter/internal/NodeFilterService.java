package io.cloudbridge.filter.internal;

import io.cloudbridge.api.policy.NodeFilter;
import io.cloudbridge.api.policy.NodeFilters;
import io.cloudbridge.api.policy.PacketFilter;
import io.cloudbridge.api.runtime.RuntimeEnvironment;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Modified;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;
import org.osgi.service.metatype.annotations.Designate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node's packet filter as a service: {@link PacketFilter} for the WireGuard engine's data path,
 * {@link NodeFilters} for the control plane, which installs the filter its network map carries.
 * The decisions are {@link StatefulFilter}'s; this component keeps the filter in force in the
 * state folder ({@link FilterStore}) and puts it back in force when it starts, so a node that
 * restarts with its control plane down still enforces its policy, and a node that never had one
 * stays fail closed. It also forgets idle flows every {@value #SWEEP_SECONDS} seconds and offers
 * the figures to Micrometer when a registry is there.
 *
 * <p>A new filter replaces the old one in place: no tunnel, session or component restarts.
 *
 * <p>Delayed, not immediate: it starts when the node's engine or control plane first asks for it,
 * so on a relay, which installs this bundle for its gateways' filters ({@link GatewayFilters}),
 * there is no node filter, no file and no log line about either.
 */
@Component(service = {PacketFilter.class, NodeFilters.class, NodeFilterService.class}, configurationPid = "cloudbridge.filter")
@Designate(ocd = FilterConfig.class)
public final class NodeFilterService implements PacketFilter, NodeFilters {
    private static final Logger LOG = LoggerFactory.getLogger(NodeFilterService.class);
    /** The folder inside the state folder, and the file in it. */
    static final String STATE_FOLDER = "policy";
    static final String FILE_NAME = "node-filter";
    /** Expired flows are forgotten when looked up or when their stripe needs room; this sweep catches the rest, so the table's size is honest. */
    private static final long SWEEP_SECONDS = 10;

    private final StatefulFilter filter;
    private final FilterMeters meters;
    /** Null when the state folder could not be had: filters are then enforced but not kept. */
    private final FilterStore store;
    private final Object installs = new Object();
    /**
     * No filter was kept and none installed: nothing is filtered, as fits a node whose peers all
     * come from its own configuration, until a control plane says it governs the node.
     */
    private boolean assumedOpen;
    private ScheduledExecutorService sweeper;

    @Activate
    public NodeFilterService(@Reference(name = "environment") RuntimeEnvironment environment, FilterConfig config) {
        this(openStore(environment), config, System::nanoTime, LOG::info);
        sweeper = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "packet-filter-sweep");
            t.setDaemon(true);
            return t;
        });
        sweeper.scheduleWithFixedDelay(this::sweep, SWEEP_SECONDS, SWEEP_SECONDS, TimeUnit.SECONDS);
    }

    /** The component without the framework: for tests, with their own clock and log. */
    NodeFilterService(FilterStore store, FilterConfig config, LongSupplier nanoTime, DenialLog.Sink denialLines) {
        this.store = store;
        this.filter = new StatefulFilter(config.maxFlows(), Timeouts.of(config), nanoTime, denialLines);
        this.meters = new FilterMeters(filter);
        Optional<NodeFilter> kept = store == null ? Optional.empty() : store.load();
        if (kept.isPresent()) {
            filter.install(kept.get());
            LOG.info("{} from {} is in force until the control plane sends one", name(kept.get()), store.file());
        } else if (store != null && !store.exists()) {
            // Never had one: no tenant has governed this node yet (a node with static peers only
            // stays so); a control plane that binds says so, and then it fails closed.
            filter.install(NodeFilter.OPEN);
            assumedOpen = true;
        } else {
            LOG.info("no filter yet: only replies to this node's own flows are let in until the control plane sends one");
        }
    }

    private static FilterStore openStore(RuntimeEnvironment environment) {
        try {
            return new FilterStore(environment.stateFolder(STATE_FOLDER).resolve(FILE_NAME), environment::writeSecret);
        } catch (IOException | RuntimeException e) {
            LOG.error("no state folder for the filter ({}): filters are enforced but not kept across restarts", e.toString());
            return null;
        }
    }

    @Modified
    void modified(FilterConfig config) {
        filter.configure(Timeouts.of(config), config.maxFlows());
    }

    @Deactivate
    void deactivate() {
        if (sweeper != null) {
            sweeper.shutdownNow();
        }
    }

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY)
    void bindMeterRegistry(MeterRegistry registry) {
        meters.bind(registry);
    }

    void unbindMeterRegistry(MeterRegistry registry) {
        meters.unbind(registry);
    }

    @Override
    public boolean admitInbound(byte[] packet, int offset, int length) {
        return filter.admitInbound(packet, offset, length);
    }

    @Override
    public boolean noteOutbound(byte[] packet, int offset, int length) {
        return filter.noteOutbound(packet, offset, length);
    }

    /**
     * The same filter again (a map delta that did not touch the policy) changes nothing: its
     * counters go on and the file is not rewritten.
     */
    @Override
    public void install(NodeFilter newFilter) {
        Objects.requireNonNull(newFilter, "filter");
        synchronized (installs) {
            if (newFilter.equals(installed())) {
                return;
            }
            assumedOpen = false;
            int stopped = filter.install(newFilter);
            meters.rulesChanged();
            LOG.info("{} is in force; {} open flows it does not allow were stopped", name(newFilter), stopped);
            if (store == null) {
                return;
            }
            try {
                store.save(newFilter);
            } catch (IOException | RuntimeException e) {
                LOG.error("{} could not be kept in {} ({}): after a restart the previous one applies until the control plane sends it again",
                        name(newFilter), store.file(), e.toString());
            }
        }
    }

    @Override
    public NodeFilter installed() {
        synchronized (installs) {
            CompiledFilter inForce = filter.inForce();
            return inForce == null || assumedOpen ? null : inForce.filter;
        }
    }

    @Override
    public void expectFromControlPlane() {
        synchronized (installs) {
            if (assumedOpen) {
                assumedOpen = false;
                filter.clear();
                LOG.info("no filter yet: only replies to this node's own flows are let in until the control plane sends one");
            }
        }
    }

    /** {@code cb:policy}'s lines. */
    List<String> describe() {
        return PolicyReport.describe(filter);
    }

    void sweep() {
        try {
            filter.sweep();
        } catch (RuntimeException e) {
            LOG.warn("forgetting idle flows failed: {}", e.toString());
        }
    }

    private static String name(NodeFilter f) {
        return f.open() ? "no policy (everything let in)" : "policy version " + f.policyVersion() + " (" + f.rules().size() + " rules)";
    }
}
