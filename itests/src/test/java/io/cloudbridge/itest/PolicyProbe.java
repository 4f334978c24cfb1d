package io.cloudbridge.itest;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.util.ArrayList;
import java.util.List;

/**
 * The far ends of the policy lab's flows, run in a node's network namespace with
 * {@code ip netns exec NS java -cp ... PolicyProbe MODE ...}:
 * <ul>
 * <li>{@code serve PORT...}: TCP and UDP echo on each port, every address (IPv4 and IPv6), until killed;</li>
 * <li>{@code tcp ADDRESS PORT}: exit 0 when a connection opens and echoes a byte within 2 s, else 1;</li>
 * <li>{@code udp ADDRESS PORT}: exit 0 when a datagram comes back within 2 s (three tries), else 1;</li>
 * <li>{@code flood ADDRESS COUNT FIRST_PORT}: one UDP datagram to each of COUNT ports from FIRST_PORT, each a new
 *     flow for the far end's filter;</li>
 * <li>{@code get URL}: the body of an HTTP GET on stdout (the node's /metrics, from inside its namespace);</li>
 * <li>{@code stream ADDRESS PORT}: one connection, a byte every 50 ms, and a line "echo MILLIS" on stdout for each
 *     echo (the time since the epoch), until the connection breaks or the process is killed.</li>
 * </ul>
 */
public final class PolicyProbe {
    private PolicyProbe() {
    }

    public static void main(String[] args) throws Exception {
        switch (args[0]) {
            case "serve" -> serve(args);
            case "tcp" -> System.exit(tcp(InetAddress.getByName(args[1]), Integer.parseInt(args[2])) ? 0 : 1);
            case "udp" -> System.exit(udp(InetAddress.getByName(args[1]), Integer.parseInt(args[2])) ? 0 : 1);
            case "stream" -> stream(InetAddress.getByName(args[1]), Integer.parseInt(args[2]));
            case "get" -> System.out.print(java.net.http.HttpClient.newHttpClient().send(
                    java.net.http.HttpRequest.newBuilder(java.net.URI.create(args[1])).build(),
                    java.net.http.HttpResponse.BodyHandlers.ofString()).body());
            case "flood" -> flood(InetAddress.getByName(args[1]), Integer.parseInt(args[2]), Integer.parseInt(args[3]));
            default -> throw new IllegalArgumentException("unknown mode " + args[0]);
        }
    }

    private static void serve(String[] args) throws IOException {
        List<Thread> threads = new ArrayList<>();
        for (int i = 1; i < args.length; i++) {
            int port = Integer.parseInt(args[i]);
            ServerSocket tcp = new ServerSocket();
            tcp.setReuseAddress(true);
            tcp.bind(new InetSocketAddress(port));
            DatagramSocket udp = new DatagramSocket(new InetSocketAddress(port));
            threads.add(new Thread(() -> acceptLoop(tcp)));
            threads.add(new Thread(() -> echoLoop(udp)));
        }
        threads.forEach(Thread::start);
        System.out.println("serving");
        System.out.flush();
    }

    private static void acceptLoop(ServerSocket server) {
        while (true) {
            try {
                Socket s = server.accept();
                Thread t = new Thread(() -> {
                    try (s; InputStream in = s.getInputStream(); OutputStream out = s.getOutputStream()) {
                        int b;
                        while ((b = in.read()) >= 0) {
                            out.write(b);
                            out.flush();
                        }
                    } catch (IOException closed) {
                        // the client went
                    }
                });
                t.setDaemon(true);
                t.start();
            } catch (IOException e) {
                return;
            }
        }
    }

    private static void echoLoop(DatagramSocket socket) {
        byte[] buf = new byte[2048];
        while (true) {
            try {
                DatagramPacket p = new DatagramPacket(buf, buf.length);
                socket.receive(p);
                socket.send(new DatagramPacket(p.getData(), p.getLength(), p.getSocketAddress()));
            } catch (IOException e) {
                return;
            }
        }
    }

    private static boolean tcp(InetAddress address, int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(address, port), 2000);
            s.setSoTimeout(2000);
            s.getOutputStream().write(7);
            return s.getInputStream().read() == 7;
        } catch (IOException e) {
            return false;
        }
    }

    private static boolean udp(InetAddress address, int port) throws IOException {
        try (DatagramSocket s = new DatagramSocket()) {
            s.setSoTimeout(700);
            byte[] hello = {1, 2, 3};
            for (int i = 0; i < 3; i++) {
                s.send(new DatagramPacket(hello, hello.length, address, port));
                try {
                    DatagramPacket back = new DatagramPacket(new byte[16], 16);
                    s.receive(back);
                    return true;
                } catch (SocketTimeoutException again) {
                    // lost, or refused by the policy: try again
                }
            }
            return false;
        }
    }

    private static void flood(InetAddress address, int count, int firstPort) throws IOException, InterruptedException {
        try (DatagramSocket s = new DatagramSocket()) {
            byte[] junk = new byte[8];
            for (int i = 0; i < count; i++) {
                s.send(new DatagramPacket(junk, junk.length, address, firstPort + i % (65_536 - firstPort)));
                if (i % 500 == 499) {
                    Thread.sleep(5); // a flood the relay's per-node share lets through, not one it sheds
                }
            }
        }
    }

    private static void stream(InetAddress address, int port) throws IOException, InterruptedException {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(address, port), 2000);
            s.setSoTimeout(50);
            OutputStream out = s.getOutputStream();
            InputStream in = s.getInputStream();
            while (true) {
                out.write(1);
                out.flush();
                try {
                    while (in.read() >= 0) {
                        System.out.println("echo " + System.currentTimeMillis());
                        System.out.flush();
                        if (in.available() == 0) {
                            break;
                        }
                    }
                } catch (SocketTimeoutException none) {
                    // nothing came back this round
                }
                Thread.sleep(50);
            }
        }
    }
}
