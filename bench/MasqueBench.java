// The client side of bench/masque.sh: the same UDP traffic sent straight to a target on loopback
// and through a CONNECT-UDP tunnel (a node's tunnel:udp port, then the relay's MASQUE proxy), side
// by side. Run by the script with the JDK's single-file source launcher.
//
//   java bench/MasqueBench.java --target-port P --tunnel-port T --relay-pid PID --node-pid PID
//        [--size 1200] [--pings 2000] [--seconds 10] [--rate 0]

import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

public class MasqueBench {
    static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();

    /** The target: echoes while echoing is on, counts what arrives either way. */
    static final class Target implements Runnable {
        final DatagramSocket socket;
        final AtomicBoolean echo = new AtomicBoolean(true);
        final AtomicLong received = new AtomicLong();
        final AtomicLong bytes = new AtomicLong();

        Target(int port) throws Exception {
            socket = new DatagramSocket(new InetSocketAddress(LOOPBACK, port));
            socket.setReceiveBufferSize(4 << 20);
        }

        @Override
        public void run() {
            byte[] buf = new byte[65_535];
            DatagramPacket p = new DatagramPacket(buf, buf.length);
            while (!socket.isClosed()) {
                try {
                    p.setLength(buf.length);
                    socket.receive(p);
                    received.incrementAndGet();
                    bytes.addAndGet(p.getLength());
                    if (echo.get()) {
                        socket.send(new DatagramPacket(buf, p.getLength(), p.getSocketAddress()));
                    }
                } catch (Exception e) {
                    return;
                }
            }
        }
    }

    static long cpuTicks(long pid) throws Exception {
        String[] f = Files.readString(Path.of("/proc/" + pid + "/stat")).split("\\) ")[1].split(" ");
        return Long.parseLong(f[11]) + Long.parseLong(f[12]); // utime, stime (fields 14 and 15)
    }

    /** Sequential round trips: p50 and p99 in microseconds, and how many were lost (1 s timeout). */
    static double[] pings(int port, int size, int count) throws Exception {
        return summary(roundTrips(port, size, count, 200));
    }

    /**
     * Sequential round trips after WARM_UPS unmeasured ones: each one's nanoseconds (the first
     * slot: how many were lost, 1 s timeout).
     */
    static long[] roundTrips(int port, int size, int count, int warmUps) throws Exception {
        try (DatagramSocket s = new DatagramSocket()) {
            s.setSoTimeout(1000);
            byte[] out = new byte[size];
            byte[] in = new byte[65_535];
            long[] rtt = new long[count + 1];
            int got = 0;
            int lost = 0;
            for (int i = 0; i < count + warmUps; i++) {
                out[0] = (byte) i;
                out[1] = (byte) (i >> 8);
                long t0 = System.nanoTime();
                s.send(new DatagramPacket(out, size, LOOPBACK, port));
                DatagramPacket p = new DatagramPacket(in, in.length);
                try {
                    do {
                        s.receive(p);
                    } while (in[0] != out[0] || in[1] != out[1]); // a late answer to an earlier ping
                } catch (SocketTimeoutException e) {
                    if (i >= warmUps) {
                        lost++;
                    }
                    continue;
                }
                if (i >= warmUps) {
                    rtt[1 + got++] = System.nanoTime() - t0;
                }
            }
            rtt[0] = lost;
            return Arrays.copyOf(rtt, got + 1);
        }
    }

    /** p50 and p99 in microseconds, and the count lost, of {@link #roundTrips} (one or more runs joined). */
    static double[] summary(long[]... runs) {
        long lost = 0;
        int n = 0;
        for (long[] run : runs) {
            lost += run[0];
            n += run.length - 1;
        }
        long[] all = new long[n];
        int at = 0;
        for (long[] run : runs) {
            System.arraycopy(run, 1, all, at, run.length - 1);
            at += run.length - 1;
        }
        Arrays.sort(all);
        if (n == 0) {
            return new double[] {Double.NaN, Double.NaN, lost};
        }
        return new double[] {all[n / 2] / 1000.0, all[Math.min(n - 1, (int) (n * 0.99))] / 1000.0, lost};
    }

    /** Sequential round trips for SECONDS, unmeasured: the paths' code compiled as it runs in the steady state. */
    static void pingFor(int port, int size, int seconds) throws Exception {
        try (DatagramSocket s = new DatagramSocket()) {
            s.setSoTimeout(100);
            byte[] out = new byte[size];
            DatagramPacket in = new DatagramPacket(new byte[65_535], 65_535);
            long end = System.nanoTime() + seconds * 1_000_000_000L;
            while (System.nanoTime() < end) {
                s.send(new DatagramPacket(out, size, LOOPBACK, port));
                try {
                    s.receive(in);
                } catch (SocketTimeoutException e) {
                    // lost: the next one
                }
            }
        }
    }

    /** Until the target's count has not moved for 100 ms (at most 2 s): the datagrams in flight have landed or are lost. */
    static void settle(Target target) {
        long deadline = System.nanoTime() + 2_000_000_000L;
        long last = -1;
        long stableSince = System.nanoTime();
        while (System.nanoTime() < deadline) {
            long now = target.received.get();
            if (now != last) {
                last = now;
                stableSince = System.nanoTime();
            } else if (System.nanoTime() - stableSince > 100_000_000L) {
                return;
            }
            Thread.onSpinWait();
        }
    }

    /** As fast as the socket takes them (or RATE per second), for SECONDS: what arrives at the target. */
    static Map<String, Double> blast(Target target, int port, int size, int seconds, int rate, long relayPid, long nodePid, double tck)
            throws Exception {
        target.echo.set(false);
        try (DatagramSocket s = new DatagramSocket()) {
            s.setSendBufferSize(4 << 20);
            byte[] out = new byte[size];
            DatagramPacket p = new DatagramPacket(out, size, LOOPBACK, port);
            // Warm-up, unmeasured.
            long warmEnd = System.nanoTime() + 2_000_000_000L;
            while (System.nanoTime() < warmEnd) {
                s.send(p);
            }
            settle(target); // what is in flight arrives before the count starts
            long r0 = target.received.get();
            long b0 = target.bytes.get();
            long relay0 = relayPid > 0 ? cpuTicks(relayPid) : 0;
            long node0 = nodePid > 0 ? cpuTicks(nodePid) : 0;
            long sent = 0;
            long t0 = System.nanoTime();
            long end = t0 + seconds * 1_000_000_000L;
            long gap = rate > 0 ? 1_000_000_000L / rate : 0;
            long next = t0;
            while (System.nanoTime() < end) {
                if (gap > 0) {
                    while (System.nanoTime() < next) {
                        Thread.onSpinWait();
                    }
                    next += gap;
                }
                s.send(p);
                sent++;
            }
            double secs = (System.nanoTime() - t0) / 1e9;
            settle(target);
            long received = target.received.get() - r0;
            long bytes = target.bytes.get() - b0;
            double relayCpu = relayPid > 0 ? (cpuTicks(relayPid) - relay0) / tck : 0;
            double nodeCpu = nodePid > 0 ? (cpuTicks(nodePid) - node0) / tck : 0;
            double gbit = bytes * 8 / 1e9;
            Map<String, Double> m = new HashMap<>();
            m.put("sent/s", sent / secs);
            m.put("received/s", received / secs);
            m.put("Mbit/s", bytes * 8 / secs / 1e6);
            m.put("loss %", sent > 0 ? 100.0 * Math.max(0, sent - received) / sent : 0);
            m.put("relay CPU s/Gbit", gbit > 0 ? relayCpu / gbit : 0);
            m.put("node CPU s/Gbit", gbit > 0 ? nodeCpu / gbit : 0);
            return m;
        } finally {
            target.echo.set(true);
        }
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> a = new HashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            a.put(args[i].replaceFirst("^--", ""), args[i + 1]);
        }
        int targetPort = Integer.parseInt(a.get("target-port"));
        int tunnelPort = Integer.parseInt(a.get("tunnel-port"));
        long relayPid = Long.parseLong(a.getOrDefault("relay-pid", "0"));
        long nodePid = Long.parseLong(a.getOrDefault("node-pid", "0"));
        int size = Integer.parseInt(a.getOrDefault("size", "1200"));
        int count = Integer.parseInt(a.getOrDefault("pings", "2000"));
        int seconds = Integer.parseInt(a.getOrDefault("seconds", "10"));
        int rate = Integer.parseInt(a.getOrDefault("rate", "0"));
        int warmUpSeconds = Integer.parseInt(a.getOrDefault("warm-up", "3"));
        double tck = Double.parseDouble(System.getProperty("clk.tck", "100"));
        Target target = new Target(targetPort);
        Thread t = new Thread(target, "target");
        t.setDaemon(true);
        t.start();

        System.out.printf("%d-byte UDP payloads; round trips: %d sequential after 200 warm-up (cold), then after a warm-up; throughput: %d s as fast as the sender goes%s%n",
                size, count, seconds, rate > 0 ? " (paced at " + rate + "/s)" : "");
        // The tunnel's first round trips run through a node and a relay that have just started (their
        // datagram path interpreted or compiled without profiles yet): reported apart, as "cold". The
        // steady state is measured after WARM_UP seconds of round trips through each path.
        double[] direct = pings(targetPort, size, count);
        double[] tunnelCold = pings(tunnelPort, size, count);
        pingFor(tunnelPort, size, warmUpSeconds);
        // Then both paths in turns of a tenth each, so that both see the same machine (the node's
        // and relay's compilers, still at work after the warm-up, take a core from both alike).
        long[][] directTurns = new long[10][];
        long[][] tunnelTurns = new long[10][];
        for (int turn = 0; turn < 10; turn++) {
            directTurns[turn] = roundTrips(targetPort, size, Math.max(1, count / 10), 20);
            tunnelTurns[turn] = roundTrips(tunnelPort, size, Math.max(1, count / 10), 20);
        }
        double[] directWarm = summary(directTurns);
        double[] tunnel = summary(tunnelTurns);
        System.out.printf("%-34s %10s %10s %6s%n", "round trip", "p50 us", "p99 us", "lost");
        System.out.printf("%-34s %10.0f %10.0f %6.0f%n", "plain UDP", direct[0], direct[1], direct[2]);
        System.out.printf("%-34s %10.0f %10.0f %6.0f%n", "CONNECT-UDP, cold (just started)", tunnelCold[0], tunnelCold[1], tunnelCold[2]);
        System.out.printf("%-34s %10.0f %10.0f %6.0f%n", "plain UDP, after " + warmUpSeconds + " s warm-up", directWarm[0], directWarm[1],
                directWarm[2]);
        System.out.printf("%-34s %10.0f %10.0f %6.0f%n", "CONNECT-UDP, after " + warmUpSeconds + " s warm-up", tunnel[0], tunnel[1], tunnel[2]);
        System.out.printf("added by the tunnel, cold: p50 %.0f us, p99 %.0f us%n", tunnelCold[0] - direct[0], tunnelCold[1] - direct[1]);
        System.out.printf("added by the tunnel: p50 %.0f us (%.1f x plain UDP), p99 %.0f us%n", tunnel[0] - directWarm[0],
                tunnel[0] / directWarm[0], tunnel[1] - directWarm[1]);

        Map<String, Double> plain = blast(target, targetPort, size, seconds, rate, 0, 0, tck);
        Map<String, Double> tunnelled = blast(target, tunnelPort, size, seconds, rate, relayPid, nodePid, tck);
        System.out.printf("%-22s %12s %12s %10s %8s %16s %16s%n", "throughput", "sent/s", "received/s", "Mbit/s", "loss %", "relay CPU s/Gbit",
                "node CPU s/Gbit");
        for (Map.Entry<String, Map<String, Double>> e : Map.of("plain UDP", plain, "CONNECT-UDP", tunnelled).entrySet().stream()
                .sorted(Map.Entry.comparingByKey(java.util.Comparator.reverseOrder())).toList()) {
            Map<String, Double> m = e.getValue();
            System.out.printf("%-22s %12.0f %12.0f %10.1f %8.1f %16.2f %16.2f%n", e.getKey(), m.get("sent/s"), m.get("received/s"),
                    m.get("Mbit/s"), m.get("loss %"), m.get("relay CPU s/Gbit"), m.get("node CPU s/Gbit"));
        }
        System.out.printf("CONNECT-UDP delivers %.3f x the plain UDP throughput%n", tunnelled.get("Mbit/s") / plain.get("Mbit/s"));
        target.socket.close();
    }
}
