// The client side of bench/relay-throughput.sh: packets relayed node -> relay -> node through a real
// relay daemon, over each transport, with the transports' own node-side code (as a node runs it).
// Run by the script with the JDK's single-file source launcher; see the script for what it measures.
//
//   java -cp CLASSPATH bench/RelayBench.java --control-port P --tls-port P --quic-port P --key cbk_...
//        --fingerprint sha256:... --relay-pid PID [--seconds 10] [--warmup 5] [--rate PPS] [--sizes full,100]
//        [--transports quic,websocket]

import com.google.protobuf.ByteString;
import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.api.transport.PacketReceiver;
import io.cloudbridge.api.transport.PacketSession;
import io.cloudbridge.api.transport.RelayEndpoint;
import io.cloudbridge.api.transport.RelayTransport;
import io.cloudbridge.api.transport.SessionCredentials;
import io.cloudbridge.api.transport.TransportState;
import io.cloudbridge.control.v1.ControlServiceGrpc;
import io.cloudbridge.control.v1.NodeInfo;
import io.cloudbridge.control.v1.RegisterRequest;
import io.cloudbridge.control.v1.RegisterResponse;
import io.grpc.ManagedChannel;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import java.lang.annotation.Annotation;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.atomic.LongAdder;

public class RelayBench {
    static final long TICKS = Long.getLong("clk.tck", 100);
    /** A full overlay packet: 1,420-byte MTU plus WireGuard's 32 bytes, where the session takes it. */
    static final int FULL = 1452;

    public static void main(String[] args) throws Exception {
        Map<String, String> a = new HashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            a.put(args[i].replaceFirst("^--", ""), args[i + 1]);
        }
        int controlPort = Integer.parseInt(a.get("control-port"));
        long relayPid = Long.parseLong(a.get("relay-pid"));
        String key = a.get("key");
        Optional<String> pin = Optional.of(a.get("fingerprint"));
        int seconds = Integer.parseInt(a.getOrDefault("seconds", "10"));
        int warmup = Integer.parseInt(a.getOrDefault("warmup", "5"));
        // 0: as fast as the relay takes them; else packets per second, paced, to compare relays at one load.
        long rate = Long.parseLong(a.getOrDefault("rate", "0"));
        List<String> sizes = List.of(a.getOrDefault("sizes", "full,100").split(","));
        List<String> transports = List.of(a.getOrDefault("transports", "quic,websocket").split(","));
        ManagedChannel control = NettyChannelBuilder.forAddress("127.0.0.1", controlPort)
                .sslContext(GrpcSslContexts.forClient().trustManager(InsecureTrustManagerFactory.INSTANCE).build()).build();

        System.out.printf("%-10s %6s %8s %12s %10s %8s %12s %14s%n", "transport", "bytes", "seconds", "packets/s", "Mbit/s",
                "loss %", "relay CPU s", "CPU s / Gbit");
        for (String transport : transports) {
            for (String size : sizes) {
                RelayTransport t = transport.equals("quic")
                        ? new io.cloudbridge.transport.quic.internal.QuicTransport(config(io.cloudbridge.transport.quic.internal.QuicTransportConfig.class))
                        : new io.cloudbridge.transport.websocket.internal.WebSocketTransport(
                                config(io.cloudbridge.transport.websocket.internal.WebSocketTransportConfig.class));
                URI uri = URI.create(transport.equals("quic") ? "quic://127.0.0.1:" + a.get("quic-port") : "wss://127.0.0.1:" + a.get("tls-port"));
                RelayEndpoint relay = new RelayEndpoint("bench", uri, pin);
                byte[] ka = randomKey();
                byte[] kb = randomKey();
                String ta = register(control, key, ka).getToken().getJwt();
                String tb = register(control, key, kb).getToken().getJwt();
                LongAdder got = new LongAdder();
                LongAdder gotBytes = new LongAdder();
                Semaphore window = new Semaphore(WINDOW);
                PacketReceiver ignore = receiver(new LongAdder(), new LongAdder(), new Semaphore(0));
                PacketSession sa = t.open(relay, new SessionCredentials(NodeKey.of(ka), () -> ta), ignore).toCompletableFuture().get(20, TimeUnit.SECONDS);
                PacketSession sb = t.open(relay, new SessionCredentials(NodeKey.of(kb), () -> tb), receiver(got, gotBytes, window))
                        .toCompletableFuture().get(20, TimeUnit.SECONDS);
                int length = size.equals("full") ? Math.min(FULL, sa.maxPacketSize()) : Integer.parseInt(size);
                ByteBuffer packet = ByteBuffer.allocateDirect(length);
                packet.put(0, (byte) 4); // a WireGuard transport message, as the relay requires
                NodeKey to = NodeKey.of(kb);
                // Warm up, then measure: a relay runs for days, so what counts is its steady state, not
                // the seconds its JIT compiler works through the new code paths (a quarter of the
                // relay's CPU in a 12-second case after a 1-second warm-up).
                blast(sa, to, packet, warmup, rate, window);
                long r0 = got.sum();
                long b0 = gotBytes.sum();
                long cpu0 = cpuTicks(relayPid);
                long t0 = System.nanoTime();
                long sent = blast(sa, to, packet, seconds, rate, window);
                long elapsed = System.nanoTime() - t0;
                // What is still on its way arrives: until nothing more has for 100 ms (2 s at most).
                long drainBy = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
                for (long seen = -1; got.sum() != seen && System.nanoTime() < drainBy; ) {
                    seen = got.sum();
                    LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(100));
                }
                long received = got.sum() - r0;
                long bytes = gotBytes.sum() - b0;
                double cpu = (cpuTicks(relayPid) - cpu0) / (double) TICKS;
                double secs = elapsed / 1e9;
                double gbit = bytes * 8 / 1e9;
                System.out.printf("%-10s %6d %8.1f %12.0f %10.1f %8.2f %12.2f %14.2f%n", transport, length, secs, received / secs,
                        bytes * 8 / secs / 1e6, sent == 0 ? 0 : 100.0 * Math.max(0, sent - received) / sent, cpu, gbit == 0 ? 0 : cpu / gbit);
                sa.close();
                sb.close();
                if (t instanceof io.cloudbridge.transport.quic.internal.QuicTransport q) {
                    q.deactivate();
                } else {
                    ((io.cloudbridge.transport.websocket.internal.WebSocketTransport) t).deactivate();
                }
            }
        }
        control.shutdownNow();
    }

    /**
     * Sends for {@code seconds} with at most {@link #WINDOW} packets on their way (sent, not yet
     * received), so that the figure is what the relay sustains, not what an overdriven queue drops.
     * Packets that do not arrive within 20 ms are written off, so a loss never stalls the sender.
     * The sender blocks while the window is full or it is ahead of its pace, never spins: the
     * relay shares the machine's cores with it, and a spinning client would take them from the
     * relay it measures (coturn's client blocks too).
     */
    static long blast(PacketSession s, NodeKey to, ByteBuffer packet, int seconds, long rate, Semaphore window) throws InterruptedException {
        long start = System.nanoTime();
        long end = start + TimeUnit.SECONDS.toNanos(seconds);
        long sent = 0;
        while (System.nanoTime() < end && s.state() == TransportState.CONNECTED) {
            if (rate > 0) {
                long due = (System.nanoTime() - start) * rate / 1_000_000_000L;
                if (sent >= due) {
                    LockSupport.parkNanos(100_000); // ahead of the pace: due packets go out in bursts
                    continue;
                }
            }
            if (!window.tryAcquire(20, TimeUnit.MILLISECONDS)) {
                window.release(WINDOW - window.availablePermits()); // lost on the way: written off
                continue;
            }
            if (s.send(to, packet.duplicate())) {
                sent++;
            } else {
                window.release();
                LockSupport.parkNanos(50_000); // the session's queue is full: let its event loop drain it
            }
        }
        return sent;
    }

    /** Packets on their way at most. */
    static final int WINDOW = 512;

    static PacketReceiver receiver(LongAdder packets, LongAdder bytes, Semaphore window) {
        return new PacketReceiver() {
            public void onPacket(NodeKey source, ByteBuffer packet) {
                packets.increment();
                bytes.add(packet.remaining());
                if (window.availablePermits() < WINDOW) {
                    window.release();
                }
            }

            public void onStateChanged(PacketSession session, TransportState state, String reason) {
            }
        };
    }

    static RegisterResponse register(ManagedChannel channel, String key, byte[] nodeKey) {
        return ControlServiceGrpc.newBlockingStub(channel).withDeadlineAfter(20, TimeUnit.SECONDS).register(RegisterRequest.newBuilder()
                .setPreAuthKey(key).setNode(NodeInfo.newBuilder().setWireguardPublicKey(ByteString.copyFrom(nodeKey))
                        .setHostname("bench").setOs("linux/amd64")).build());
    }

    static byte[] randomKey() {
        byte[] k = new byte[32];
        new SecureRandom().nextBytes(k);
        return k;
    }

    static long cpuTicks(long pid) throws Exception {
        String[] f = Files.readString(Path.of("/proc/" + pid + "/stat")).replaceAll(".*\\) ", "").split(" ");
        return Long.parseLong(f[11]) + Long.parseLong(f[12]);
    }

    /** A configuration annotation with its defaults, as DS would give a component with no section. */
    @SuppressWarnings("unchecked")
    static <A extends Annotation> A config(Class<A> type) {
        return (A) java.lang.reflect.Proxy.newProxyInstance(type.getClassLoader(), new Class<?>[] {type}, (proxy, method, margs) ->
                method.getName().equals("annotationType") ? type : method.getDefaultValue());
    }
}
