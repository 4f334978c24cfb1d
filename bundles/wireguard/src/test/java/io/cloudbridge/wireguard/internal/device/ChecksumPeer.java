package io.cloudbridge.wireguard.internal.device;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Random;

/**
 * Run inside the lab namespace by the interop test: connects to HOST:PORT, sends MEGABYTES of
 * seeded pseudo-random data, and prints its SHA-256, for the receiver to compare.
 */
public final class ChecksumPeer {
    private ChecksumPeer() {
    }

    public static void main(String[] args) throws Exception {
        String host = args[0];
        int port = Integer.parseInt(args[1]);
        long bytes = Long.parseLong(args[2]) * 1024 * 1024;
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        Random random = new Random(20261125L);
        byte[] chunk = new byte[64 * 1024];
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(host, port), 5000);
            OutputStream out = s.getOutputStream();
            for (long sent = 0; sent < bytes; sent += chunk.length) {
                random.nextBytes(chunk);
                int n = (int) Math.min(chunk.length, bytes - sent);
                out.write(chunk, 0, n);
                sha.update(chunk, 0, n);
            }
            s.shutdownOutput();
            InputStream in = s.getInputStream();
            in.read(); // the receiver closes once it has everything
        }
        System.out.println(HexFormat.of().formatHex(sha.digest()));
    }
}
