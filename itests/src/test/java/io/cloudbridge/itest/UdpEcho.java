package io.cloudbridge.itest;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;

/** A UDP echo server on loopback, on a daemon thread: the far end of the tests' tunnels. */
final class UdpEcho implements AutoCloseable {
    private final DatagramSocket socket;

    private UdpEcho(DatagramSocket socket) {
        this.socket = socket;
    }

    static UdpEcho start() throws IOException {
        UdpEcho echo = new UdpEcho(new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)));
        Thread t = new Thread(echo::serve, "echo");
        t.setDaemon(true);
        t.start();
        return echo;
    }

    int port() {
        return socket.getLocalPort();
    }

    private void serve() {
        byte[] buf = new byte[2048];
        while (!socket.isClosed()) {
            try {
                DatagramPacket p = new DatagramPacket(buf, buf.length);
                socket.receive(p);
                socket.send(new DatagramPacket(p.getData(), p.getLength(), p.getSocketAddress()));
            } catch (IOException closed) {
                return;
            }
        }
    }

    @Override
    public void close() {
        socket.close();
    }
}
