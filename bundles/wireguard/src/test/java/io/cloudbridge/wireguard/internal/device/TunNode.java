package io.cloudbridge.wireguard.internal.device;

import io.cloudbridge.paths.internal.OverlayBinding;

import io.cloudbridge.api.net.IpPrefix;
import io.cloudbridge.api.tun.TunDevice;
import io.cloudbridge.tun.internal.LinuxTunDevices;
import io.cloudbridge.wireguard.internal.noise.Identity;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

/**
 * The engine on its own, outside the framework: one TUN device, one peer. The throughput benchmark
 * runs it (from the test classes: it is a harness, not part of the bundle) inside network
 * namespaces beside wireguard-go.
 *
 * <pre>
 * TunNode --tun cb0 --address 10.202.0.1/24 --listen 10.201.0.1:51820 --private-key-file key
 *         --peer BASE64 --endpoint 10.201.0.2:51820 --allowed 10.202.0.2/32 [--mtu 1420]
 *         [--offload true|false] [--crypto-threads N] [--more-peers FILE] [--policy open|RULES]
 *         [--socket-batching true|false]
 * </pre>
 *
 * {@code --socket-batching} (true by default, as in the runtime) gives the engine the paths
 * bundle's epoll socket (bursts a system call, UDP GSO and GRO); false, the JDK's.
 *
 * {@code --more-peers} adds the peers of a file, a line each: a Base64 public key and its allowed
 * prefixes, comma-separated. They carry no traffic; the benchmark measures what a large mesh costs
 * the data path (routing every packet among everyone's prefixes).
 *
 * <p>{@code --policy} puts the node's stateful policy filter (the {@code filter} bundle's) on the
 * data path: {@code open} as in a tenant without a policy (flows still tracked), or a policy of
 * RULES rules compiled for this node: RULES - 1 deny rules for other sources and ports first, then
 * the one that accepts the tunnel's prefix, so a new flow is tried against every rule.
 */
public final class TunNode {
    private TunNode() {
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> o = new HashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            o.put(args[i], args[i + 1]);
        }
        for (String required : List.of("--tun", "--address", "--listen", "--private-key-file", "--peer", "--allowed")) {
            if (!o.containsKey(required)) {
                System.err.println("missing " + required);
                System.exit(2);
            }
        }
        Identity identity = new Identity(Base64.getDecoder().decode(Files.readString(Path.of(o.get("--private-key-file"))).trim()));
        List<IpPrefix> allowed = new ArrayList<>();
        for (String a : o.get("--allowed").split(",")) {
            allowed.add(IpPrefix.parse(a));
        }
        TunDevice tun = new LinuxTunDevices().open(o.get("--tun"), Integer.parseInt(o.getOrDefault("--mtu", "1420")),
                List.of(o.get("--address").split(",")), allowed, !"false".equals(o.get("--offload")));
        OverlayBinding binding = OverlayBinding.open(address(o.get("--listen")), !"false".equals(o.get("--socket-batching")));
        WireGuardDevice[] device = new WireGuardDevice[1];
        device[0] = new WireGuardDevice(identity, binding, new WireGuardDevice.PacketSink() {
            @Override
            public void deliver(Peer peer, byte[] packet, int length) {
                try {
                    tun.write(packet, length);
                } catch (IOException e) {
                    // the device is closing
                }
            }

            @Override
            public void flush() {
                try {
                    tun.flush();
                } catch (IOException e) {
                    // the device is closing
                }
            }
        }, Clock.systemUTC());
        if (o.containsKey("--policy")) {
            device[0].filter(policyFilter(o.get("--policy"), o.get("--address")));
        }
        if (o.containsKey("--crypto-threads")) {
            device[0].setCryptoThreads(Integer.parseInt(o.get("--crypto-threads")));
        }
        device[0].addPeer(Base64.getDecoder().decode(o.get("--peer")), null, allowed,
                o.containsKey("--endpoint") ? address(o.get("--endpoint")) : null);
        if (o.containsKey("--more-peers")) {
            for (String line : Files.readAllLines(Path.of(o.get("--more-peers")))) {
                String[] fields = line.trim().split("\\s+");
                if (fields.length != 2) {
                    continue;
                }
                List<IpPrefix> prefixes = new ArrayList<>();
                for (String prefix : fields[1].split(",")) {
                    prefixes.add(IpPrefix.parse(prefix));
                }
                device[0].addPeer(Base64.getDecoder().decode(fields[0]), null, prefixes, null);
            }
        }
        device[0].start();
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            // For the benchmark: how many packets each direction carried (allocation per packet).
            for (Peer p : device[0].peers()) {
                System.err.println("packets: sent=" + p.txPackets() + " received=" + p.rxPackets());
            }
            try {
                device[0].close();
            } catch (IOException ignored) {
                // exiting
            }
            tun.close();
            stopped.countDown();
        }));
        TunPump.start(tun, device[0]);
        stopped.await();
    }

    private static io.cloudbridge.api.policy.PacketFilter policyFilter(String policy, String address) {
        io.cloudbridge.filter.internal.FilterConfig defaults = new io.cloudbridge.filter.internal.FilterConfig() {
            @Override
            public Class<? extends java.lang.annotation.Annotation> annotationType() {
                return io.cloudbridge.filter.internal.FilterConfig.class;
            }

            @Override
            public int maxFlows() {
                return 65_536;
            }

            @Override
            public long tcpEstablishedSeconds() {
                return 300;
            }

            @Override
            public long tcpClosingSeconds() {
                return 20;
            }

            @Override
            public long udpSeconds() {
                return 60;
            }

            @Override
            public long icmpSeconds() {
                return 30;
            }
        };
        io.cloudbridge.api.policy.StatefulFilters.Filter f = new io.cloudbridge.filter.internal.GatewayFilters(defaults).create("bench");
        if (policy.equals("open")) {
            f.install(io.cloudbridge.api.policy.NodeFilter.OPEN);
            return f;
        }
        int rules = Integer.parseInt(policy);
        IpPrefix tunnel = IpPrefix.parse(address.split(",")[0]);
        IpPrefix self = IpPrefix.parse(address.split(",")[0].split("/")[0] + "/32");
        List<io.cloudbridge.api.policy.FilterRule> list = new ArrayList<>();
        for (int i = 1; i < rules; i++) {
            list.add(new io.cloudbridge.api.policy.FilterRule(i, "deny " + i, false,
                    List.of(IpPrefix.parse("10.203." + (i >> 8 & 0xff) + "." + (i & 0xff) + "/32")), List.of(self),
                    java.util.Set.of(io.cloudbridge.api.policy.FilterRule.TCP),
                    List.of(new io.cloudbridge.api.policy.PortRange(1000 + i % 60_000, 1000 + i % 60_000))));
        }
        list.add(new io.cloudbridge.api.policy.FilterRule(rules, "the tunnel", true, List.of(new IpPrefix(tunnel.address(), tunnel.length())),
                List.of(self), java.util.Set.of(), List.of()));
        f.install(new io.cloudbridge.api.policy.NodeFilter(1, list));
        return f;
    }

    private static InetSocketAddress address(String text) throws IOException {
        int colon = text.lastIndexOf(':');
        return new InetSocketAddress(InetAddress.getByName(text.substring(0, colon)), Integer.parseInt(text.substring(colon + 1)));
    }
}
