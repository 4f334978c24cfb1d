package io.cloudbridge.wireguard.internal.device;

import io.cloudbridge.paths.internal.OverlayBinding;

import io.cloudbridge.api.net.IpPrefix;
import io.cloudbridge.api.tun.TunDevice;
import io.cloudbridge.tun.internal.LinuxTunDevices;
import io.cloudbridge.wireguard.internal.noise.Identity;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.channels.DatagramChannel;
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
 *         [--offload true|false] [--crypto-threads N] [--more-peers FILE]
 * </pre>
 *
 * {@code --more-peers} adds the peers of a file, a line each: a Base64 public key and its allowed
 * prefixes, comma-separated. They carry no traffic; the benchmark measures what a large mesh costs
 * the data path (routing every packet among everyone's prefixes).
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
        DatagramChannel channel = DatagramChannel.open().bind(address(o.get("--listen")));
        WireGuardDevice[] device = new WireGuardDevice[1];
        device[0] = new WireGuardDevice(identity, new OverlayBinding(channel), new WireGuardDevice.PacketSink() {
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

    private static InetSocketAddress address(String text) throws IOException {
        int colon = text.lastIndexOf(':');
        return new InetSocketAddress(InetAddress.getByName(text.substring(0, colon)), Integer.parseInt(text.substring(colon + 1)));
    }
}
