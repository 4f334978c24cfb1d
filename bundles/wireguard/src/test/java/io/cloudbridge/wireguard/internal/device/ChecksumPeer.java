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
 * seeded pseudo-random data, and prints its SHA-256, for the receiver to compare; or with
 * {@code --receive HOST PORT MEGABYTES} takes one connection there, reads MEGABYTES, and prints
 * their SHA-256.
 */
public final class ChecksumPeer {
    private ChecksumPeer() {
    }

    public static void main(String[] args) throws Exception {
        if (args[0].equals("--receive")) {
            try (java.net.ServerSocket server = new java.net.ServerSocket()) {
                server.bind(new InetSocketAddress(args[1], Integer.parseInt(args[2])));
                server.setSoTimeout(30_000);
                try (Socket s = server.accept()) {
                    System.out.println(drain(s, Long.parseLong(args[3]) * 1024 * 1024));
                }
            }
            return;
        }
        System.out.println(send(null, new InetSocketAddress(args[0], Integer.parseInt(args[1])), Integer.parseInt(args[2])));
    }

    /** Reads the connection to its end; returns the SHA-256 of exactly {@code expected} bytes, or fails. */
    static String drain(Socket s, long expected) throws Exception {
        s.setSoTimeout(30_000); // a stalled tunnel fails the test instead of hanging it
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        byte[] buf = new byte[64 * 1024];
        long total = 0;
        int n;
        InputStream in = s.getInputStream();
        while ((n = in.read(buf)) > 0) {
            sha.update(buf, 0, n);
            total += n;
        }
        if (total != expected) {
            throw new IllegalStateException("received " + total + " bytes, not " + expected);
        }
        return HexFormat.of().formatHex(sha.digest());
    }

    /** Sends MEGABYTES of the seeded data from {@code local} (null: any) to {@code to}; returns their SHA-256. */
    static String send(InetSocketAddress local, InetSocketAddress to, int megabytes) throws Exception {
        long bytes = (long) megabytes * 1024 * 1024;
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        Random random = new Random(20261125L);
        byte[] chunk = new byte[64 * 1024];
        try (Socket s = new Socket()) {
            if (local != null) {
                s.bind(local);
            }
            s.connect(to, 30_000); // under loss a handshake may need a retry or two, 5 s apart
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
        return HexFormat.of().formatHex(sha.digest());
    }
}
