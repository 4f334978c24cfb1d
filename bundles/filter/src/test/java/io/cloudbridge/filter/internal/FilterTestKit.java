package io.cloudbridge.filter.internal;

import io.cloudbridge.api.net.IpPrefix;
import io.cloudbridge.api.policy.FilterRule;
import io.cloudbridge.api.policy.NodeFilter;
import io.cloudbridge.api.policy.PortRange;
import java.io.IOException;
import java.lang.annotation.Annotation;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/** What the filter's tests share: configurations, rules, a clock they move by hand. */
final class FilterTestKit {
    static final int TCP = PacketHeaders.TCP;
    static final int UDP = PacketHeaders.UDP;
    static final int ICMP = PacketHeaders.ICMP;
    static final int ICMPV6 = PacketHeaders.ICMPV6;

    private FilterTestKit() {
    }

    static FilterConfig config(int maxFlows) {
        return config(maxFlows, 300, 20, 60, 30);
    }

    static FilterConfig config(int maxFlows, long tcpSeconds, long tcpClosingSeconds, long udpSeconds, long icmpSeconds) {
        return new FilterConfig() {
            @Override
            public Class<? extends Annotation> annotationType() {
                return FilterConfig.class;
            }

            @Override
            public int maxFlows() {
                return maxFlows;
            }

            @Override
            public long tcpEstablishedSeconds() {
                return tcpSeconds;
            }

            @Override
            public long tcpClosingSeconds() {
                return tcpClosingSeconds;
            }

            @Override
            public long udpSeconds() {
                return udpSeconds;
            }

            @Override
            public long icmpSeconds() {
                return icmpSeconds;
            }
        };
    }

    /** A filter engine on {@code clock} whose denial lines go to {@code log}. */
    static StatefulFilter engine(int maxFlows, ManualClock clock, List<String> log) {
        return new StatefulFilter(maxFlows, Timeouts.of(config(maxFlows)), clock, log::add);
    }

    /** A policy that accepts every flow: flows are parsed and tracked, unlike with no policy. */
    static NodeFilter acceptAll() {
        return filter(1, rule(1, "all", true, "0.0.0.0/0,::/0", "0.0.0.0/0,::/0", java.util.Set.of()));
    }

    static NodeFilter filter(long version, FilterRule... rules) {
        return new NodeFilter(version, List.of(rules));
    }

    /**
     * A rule from {@code sources} (comma-separated prefixes) to {@code destinations}, on
     * {@code protocols} (empty: any) and {@code ports} ("22", "8000-8080"; none: any).
     */
    static FilterRule rule(int position, String name, boolean accept, String sources, String destinations, Set<Integer> protocols,
            String... ports) {
        return new FilterRule(position, name, accept, prefixes(sources), prefixes(destinations), protocols,
                Arrays.stream(ports).map(FilterTestKit::ports).toList());
    }

    private static List<IpPrefix> prefixes(String list) {
        return list.isEmpty() ? List.of() : Arrays.stream(list.split(",")).map(IpPrefix::parse).toList();
    }

    private static PortRange ports(String text) {
        String[] ends = text.split("-");
        return new PortRange(Integer.parseInt(ends[0]), Integer.parseInt(ends[ends.length - 1]));
    }

    /** What {@code RuntimeEnvironment.writeSecret} does: owner-only from the start, replaced in one step. */
    static void writeOwnerOnly(Path file, String text) throws IOException {
        Path temporary = Files.createTempFile(file.getParent(), ".filter", ".tmp",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(temporary, text);
        Files.move(temporary, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** The filter's time, moved by the test: no test waits for a timeout. */
    static final class ManualClock implements LongSupplier {
        private long nanos = TimeUnit.HOURS.toNanos(1);

        @Override
        public synchronized long getAsLong() {
            return nanos;
        }

        synchronized void advanceSeconds(long seconds) {
            nanos += TimeUnit.SECONDS.toNanos(seconds);
        }
    }
}
