package io.cloudbridge.filter.internal;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.LongAdder;

/**
 * The filter's figures as Micrometer meters, while a registry is there: drops by reason
 * ({@code cloudbridge.filter.drops}), new flows each rule decided ({@code cloudbridge.filter.rule.hits},
 * tagged with the rule's label and its verdict), the flows tracked ({@code cloudbridge.filter.flows})
 * and evictions ({@code cloudbridge.filter.evictions}). The meters read the filter's own counters
 * when scraped; the data path never touches Micrometer.
 *
 * <p>The rules' meters follow the filter in force: a new filter's rules replace the old ones'
 * (their counts start again from zero, which Prometheus reads as a counter reset). Only the first
 * {@value #MAX_RULE_METERS} rules get meters, so that a policy's size cannot blow up the series
 * count; {@code cb:policy} shows every rule.
 */
final class FilterMeters {
    static final int MAX_RULE_METERS = 200;

    private final StatefulFilter filter;
    private final List<Meter> fixed = new ArrayList<>();
    private final List<Meter> rules = new ArrayList<>();
    private MeterRegistry registry;

    FilterMeters(StatefulFilter filter) {
        this.filter = filter;
    }

    synchronized void bind(MeterRegistry newRegistry) {
        removeAll();
        registry = newRegistry;
        for (DropReason reason : DropReason.values()) {
            fixed.add(FunctionCounter.builder("cloudbridge.filter.drops", filter, f -> f.drops(reason))
                    .tag("reason", reason.label).description("Inbound packets the filter dropped").register(newRegistry));
        }
        fixed.add(Gauge.builder("cloudbridge.filter.flows", filter, StatefulFilter::flowCount)
                .description("Flows the filter tracks").register(newRegistry));
        fixed.add(FunctionCounter.builder("cloudbridge.filter.evictions", filter, StatefulFilter::evictions)
                .description("Flows forgotten before their time to make room for new ones").register(newRegistry));
        registerRules();
    }

    synchronized void unbind(MeterRegistry goingAway) {
        if (registry == goingAway) {
            removeAll();
            registry = null;
        }
    }

    /** A new filter is in force: its rules' meters replace the previous ones'. */
    synchronized void rulesChanged() {
        if (registry == null) {
            return;
        }
        rules.forEach(registry::remove);
        rules.clear();
        registerRules();
    }

    private void registerRules() {
        CompiledFilter inForce = filter.inForce();
        if (inForce == null) {
            return;
        }
        for (int i = 0; i < Math.min(inForce.ruleCount(), MAX_RULE_METERS); i++) {
            // The counter is held by the filter in force, which outlives these meters (they go when it is replaced).
            rules.add(FunctionCounter.builder("cloudbridge.filter.rule.hits", inForce.hits(i), LongAdder::sum)
                    .tag("rule", inForce.rule(i).label()).tag("verdict", inForce.accepts(i) ? "accept" : "deny")
                    .description("New inbound flows a rule decided").register(registry));
        }
    }

    private void removeAll() {
        if (registry != null) {
            fixed.forEach(registry::remove);
            rules.forEach(registry::remove);
        }
        fixed.clear();
        rules.clear();
    }
}
