import io.cloudbridge.itest.ConnectIpTest;
import io.cloudbridge.itest.RawH3;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Packets per second through CONNECT-IP against CONNECT-UDP, side by side on one relay, one
 * client, one HTTP/3 connection: the client keeps WINDOW echo requests in flight and sends the
 * next as each reply comes. Through CONNECT-IP each is an ICMP echo request to a real node of the
 * tenant (userspace mode, which answers pings itself): proxy, gateway's WireGuard, relay's switch,
 * node's WireGuard and back. Through CONNECT-UDP each is a UDP payload of the same size to an echo
 * socket on loopback: proxy, UDP socket and back. The ratio is what the gateway's overlay leg
 * costs; the relay's CPU per Gbit counts both directions' bytes. See bench/connect-ip.sh.
 */
public class ConnectIpBench {
    public static void main(String[] args) throws Exception {
        Map<String, String> a = new HashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            a.put(args[i].substring(2), args[i + 1]);
        }
        int quicPort = Integer.parseInt(a.get("quic-port"));
        int controlPort = Integer.parseInt(a.get("control-port"));
        String preAuthKey = Files.readString(Path.of(a.get("key-file"))).trim();
        InetAddress node = InetAddress.getByName(a.get("node-address"));
        long relayPid = Long.parseLong(a.get("relay-pid"));
        int size = Integer.parseInt(a.getOrDefault("size", "1200"));
        int window = Integer.parseInt(a.getOrDefault("window", "32"));
        int seconds = Integer.parseInt(a.getOrDefault("seconds", "10"));
        double tck = Double.parseDouble(System.getProperty("clk.tck", "100"));

        String token = io.cloudbridge.itest.ConnectIpProbe.register("127.0.0.1", controlPort, preAuthKey);
        try (DatagramSocket echo = new DatagramSocket(0, InetAddress.getLoopbackAddress()); RawH3 h3 = new RawH3(quicPort)) {
            Thread echoer = new Thread(() -> {
                byte[] buf = new byte[65_535];
                while (!echo.isClosed()) {
                    try {
                        DatagramPacket p = new DatagramPacket(buf, buf.length);
                        echo.receive(p);
                        echo.send(new DatagramPacket(p.getData(), p.getLength(), p.getSocketAddress()));
                    } catch (java.io.IOException closed) {
                        return;
                    }
                }
            }, "udp-echo");
            echoer.setDaemon(true);
            echoer.start();

            RawH3.Request ip = h3.connect("connect-ip", ConnectIpTest.path("*", "*"), token, true);
            expect200(ip, "CONNECT-IP");
            InetAddress mine = (InetAddress) ConnectIpTest.addresses(ConnectIpTest.capsules(ip, 1).get(0).value()).get(0)[1];
            RawH3.Request udp = h3.connect("connect-udp", "/.well-known/masque/udp/127.0.0.1/" + echo.getLocalPort() + "/", token, true);
            expect200(udp, "CONNECT-UDP");

            // One echo through each first: the node learns the client's address from its map, WireGuard handshakes.
            int icmpPayload = size - 28;
            byte[] probe = ConnectIpTest.icmpEcho(mine, node, 7, 0, icmpPayload);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            boolean answered = false;
            while (!answered && System.nanoTime() < deadline) {
                h3.datagram(ConnectIpTest.datagram(ip.quarter(), probe));
                answered = h3.datagrams.poll(500, TimeUnit.MILLISECONDS) != null;
            }
            if (!answered) {
                throw new IllegalStateException("the node never answered through the gateway");
            }
            // The warm-up's other answers may still come: they are let in and dropped until the line is quiet.
            while (h3.datagrams.poll(300, TimeUnit.MILLISECONDS) != null) {
                h3.datagrams.clear();
            }

            System.out.printf(Locale.ROOT, "%d-byte packets, %d in flight, %d s each; client %s, node %s%n", size, window, seconds,
                    mine.getHostAddress(), node.getHostAddress());
            byte[] udpPayload = new byte[size];
            double[] udpRun = run(h3, udp.quarter(), seq -> udpPayload, window, seconds, relayPid, tck, size);
            double[] ipRun = run(h3, ip.quarter(), seq -> ConnectIpTest.icmpEcho(mine, node, 7, seq & 0xffff, icmpPayload), window,
                    seconds, relayPid, tck, size);
            System.out.printf(Locale.ROOT, "%-12s %12s %14s %16s%n", "", "echoes/s", "Mbit/s each way", "relay CPU s/Gbit");
            System.out.printf(Locale.ROOT, "%-12s %12.0f %14.1f %16.2f%n", "CONNECT-UDP", udpRun[0], udpRun[1], udpRun[2]);
            System.out.printf(Locale.ROOT, "%-12s %12.0f %14.1f %16.2f%n", "CONNECT-IP", ipRun[0], ipRun[1], ipRun[2]);
            System.out.printf(Locale.ROOT, "ratio CONNECT-IP / CONNECT-UDP: %.3f (packets/s)%n", ipRun[0] / udpRun[0]);
            echo.close();
        }
    }

    interface Packets {
        byte[] next(int sequence);
    }

    /** Echoes per second, Mbit/s of payload each way, relay CPU seconds per Gbit (both ways). */
    static double[] run(RawH3 h3, long quarter, Packets packets, int window, int seconds, long relayPid, double tck, int size)
            throws Exception {
        h3.datagrams.clear();
        int seq = 0;
        for (int i = 0; i < window; i++) {
            h3.datagram(ConnectIpTest.datagram(quarter, packets.next(++seq)));
        }
        long cpu0 = cpuTicks(relayPid);
        long start = System.nanoTime();
        long end = start + TimeUnit.SECONDS.toNanos(seconds);
        long answered = 0;
        while (System.nanoTime() < end) {
            byte[] d = h3.datagrams.poll(200, TimeUnit.MILLISECONDS);
            if (d == null) {
                // A lost one: put another in flight, so the window does not shrink for good.
                h3.datagram(ConnectIpTest.datagram(quarter, packets.next(++seq)));
                continue;
            }
            answered++;
            h3.datagram(ConnectIpTest.datagram(quarter, packets.next(++seq)));
        }
        double elapsed = (System.nanoTime() - start) / 1e9;
        double cpu = (cpuTicks(relayPid) - cpu0) / tck;
        double perSecond = answered / elapsed;
        double bitsEachWay = answered * (double) size * 8;
        return new double[] {perSecond, bitsEachWay / elapsed / 1e6, cpu / (2 * bitsEachWay / 1e9)};
    }

    static long cpuTicks(long pid) throws Exception {
        String[] f = Files.readString(Path.of("/proc/" + pid + "/stat")).replaceAll("^.*\\) ", "").split(" ");
        return Long.parseLong(f[11]) + Long.parseLong(f[12]);
    }

    static void expect200(RawH3.Request r, String what) throws Exception {
        String status = r.status.get(10, TimeUnit.SECONDS);
        if (!"200".equals(status)) {
            throw new IllegalStateException(what + " refused: " + status + " " + new String(r.drain(500)));
        }
    }

}
