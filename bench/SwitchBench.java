import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.api.relay.AuthenticatedNode;
import io.cloudbridge.api.relay.ForwardResult;
import io.cloudbridge.api.relay.PacketSwitch;
import io.cloudbridge.api.relay.PortSink;
import io.cloudbridge.api.relay.SwitchPort;
import java.lang.reflect.Proxy;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The relay switch's forwarding path alone: SwitchPort.forward from a session's thread to a sink
 * that takes every packet, in a loop, so that the figure is the switch's own cost per packet
 * (lookup, the WireGuard check, the rates, counters), without transports or system calls. Run by
 * bench/switch-forward.sh against two builds of the switch side by side.
 *
 * Arguments: LIMITS (off: every limit 0; on: every limit finite but far above what the loop
 * reaches, so nothing is refused and the rate code runs in full), THREADS, SECONDS, WARMUP_SECONDS.
 * 4 tenants of 8 nodes; thread t drives the nodes n with n % THREADS == t, each sending 100-byte
 * WireGuard transport messages to the next node of its tenant.
 */
public class SwitchBench {
    static final int TENANTS = 4;
    static final int NODES = 8;

    public static void main(String[] args) throws Exception {
        boolean limits = args[0].equals("on");
        int threads = Integer.parseInt(args[1]);
        int seconds = Integer.parseInt(args[2]);
        int warmup = Integer.parseInt(args[3]);
        Class<?> configType = Class.forName("io.cloudbridge.relay.internal.ForwardingConfig");
        Object config = Proxy.newProxyInstance(configType.getClassLoader(), new Class<?>[] {configType}, (proxy, method, a) -> {
            if (method.getName().equals("annotationType")) {
                return configType;
            }
            boolean isInt = method.getReturnType() == int.class;
            if (!limits) {
                return isInt ? (Object) 0 : (Object) 0L;
            }
            return isInt ? (Object) Integer.MAX_VALUE : (Object) (Long.MAX_VALUE / 4);
        });
        PacketSwitch sw = (PacketSwitch) Class.forName("io.cloudbridge.relay.internal.TenantSwitch").getConstructor(configType)
                .newInstance(config);
        PortSink sink = new PortSink() {
            @Override
            public boolean deliver(NodeKey source, ByteBuffer packet) {
                return true;
            }

            @Override
            public void closed(String reason) {
            }
        };
        List<List<SwitchPort>> perThread = new ArrayList<>();
        List<List<NodeKey>> peers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            perThread.add(new ArrayList<>());
            peers.add(new ArrayList<>());
        }
        for (int tenant = 0; tenant < TENANTS; tenant++) {
            for (int n = 0; n < NODES; n++) {
                SwitchPort port = sw.attach(new AuthenticatedNode("n" + tenant + "-" + n, "tenant" + tenant, key(tenant, n)), "bench", sink);
                perThread.get(n % threads).add(port);
                peers.get(n % threads).add(key(tenant, (n + 1) % NODES));
            }
        }
        AtomicBoolean measuring = new AtomicBoolean();
        AtomicBoolean stop = new AtomicBoolean();
        long[] counts = new long[threads];
        long[] refused = new long[threads];
        CountDownLatch done = new CountDownLatch(threads);
        for (int t = 0; t < threads; t++) {
            int me = t;
            Thread th = new Thread(() -> {
                ByteBuffer packet = ByteBuffer.allocate(100);
                packet.put(0, (byte) 4);
                List<SwitchPort> ports = perThread.get(me);
                List<NodeKey> to = peers.get(me);
                int size = ports.size();
                long n = 0;
                long bad = 0;
                boolean counting = false;
                while (!stop.get()) {
                    for (int i = 0; i < 1024; i++) {
                        int k = i % size;
                        if (ports.get(k).forward(to.get(k), packet) != ForwardResult.FORWARDED) {
                            bad++;
                        }
                    }
                    if (counting) {
                        n += 1024;
                    } else if (measuring.get()) {
                        counting = true;
                        bad = 0;
                    }
                }
                counts[me] = n;
                refused[me] = bad;
                done.countDown();
            });
            th.start();
        }
        Thread.sleep(warmup * 1000L);
        long start = System.nanoTime();
        measuring.set(true);
        Thread.sleep(seconds * 1000L);
        stop.set(true);
        long elapsed = System.nanoTime() - start;
        done.await();
        long total = 0;
        long bad = 0;
        for (int t = 0; t < threads; t++) {
            total += counts[t];
            bad += refused[t];
        }
        // ns per packet per thread: each thread's time divided by its packets.
        System.out.printf("limits=%s threads=%d packets=%d not_forwarded=%d Mpackets/s=%.2f ns/packet/thread=%.1f%n", args[0],
                threads, total, bad, total / (elapsed / 1e3), (double) elapsed * threads / total);
    }

    static NodeKey key(int tenant, int n) {
        byte[] b = new byte[32];
        b[0] = (byte) n;
        b[1] = (byte) tenant;
        b[2] = 1;
        return NodeKey.of(b);
    }
}
