package io.cloudbridge.itest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.DatagramSocket;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.concurrent.TimeUnit;
import javax.crypto.KeyAgreement;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two real daemons with the overlay feature in userspace mode (no root, no TUN) on loopback: they
 * handshake, cb:ping crosses the tunnel both ways, and wg:show reports the session.
 */
class OverlayTest {
    @TempDir
    Path work;

    private static int freeUdpPort() throws Exception {
        try (DatagramSocket s = new DatagramSocket(0, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    /** A Curve25519 key pair from the JDK, Base64 {private, public}. */
    private static String[] keyPair() throws Exception {
        var kp = java.security.KeyPairGenerator.getInstance("X25519").generateKeyPair();
        byte[] priv = ((java.security.interfaces.XECPrivateKey) kp.getPrivate()).getScalar().orElseThrow();
        byte[] be = ((java.security.interfaces.XECPublicKey) kp.getPublic()).getU().toByteArray();
        byte[] pub = new byte[32];
        for (int i = 0; i < Math.min(be.length, 32); i++) {
            pub[i] = be[be.length - 1 - i];
        }
        KeyAgreement.getInstance("XDH"); // the JDK has X25519: the keys above are real
        return new String[] {Base64.getEncoder().encodeToString(priv), Base64.getEncoder().encodeToString(pub)};
    }

    private static String config(Path dir, String side, String privateKey, int port, String address, String peerKey,
            int peerPort, String peerAddress) throws Exception {
        Path key = dir.resolve(side + ".key");
        RuntimeTestSupport.writeOwnerOnly(key, privateKey + "\n");
        return String.join("\n",
                "kernel:", "  features: [core, shell, overlay]",
                "wireguard:",
                "  interfaceName: cbit" + side,
                "  privateKeyFile: " + key,
                "  listenAddress: 127.0.0.1",
                "  listenPort: " + port,
                "  addresses: [" + address + "/24]",
                "  userspace: true",
                "  uapiDirectory: \"\"",
                "  peers: [\"publicKey=" + peerKey + " endpoint=127.0.0.1:" + peerPort + " allowedIps=" + peerAddress + "/32\"]",
                "");
    }

    @Test
    void twoDaemonsPingEachOtherThroughTheOverlay() throws Exception {
        String[] a = keyPair();
        String[] b = keyPair();
        int portA = freeUdpPort();
        int portB = freeUdpPort();
        Path dirA = Files.createDirectories(work.resolve("a"));
        Path dirB = Files.createDirectories(work.resolve("b"));
        Daemon nodeA = new Daemon(dirA);
        Daemon nodeB = new Daemon(dirB);
        RuntimeTestSupport.writeOwnerOnly(nodeA.config, config(dirA, "a", a[0], portA, "10.77.0.1", b[1], portB, "10.77.0.2"));
        RuntimeTestSupport.writeOwnerOnly(nodeB.config, config(dirB, "b", b[0], portB, "10.77.0.2", a[1], portA, "10.77.0.1"));
        try (Daemon da = nodeA.start(); Daemon db = nodeB.start()) {
            // The admin socket answers before the overlay's bundles have started: ping once both have.
            Await.until(Duration.ofSeconds(20), "both runtimes started",
                    () -> da.logText().contains("runtime started") && db.logText().contains("runtime started"));
            Daemon.Result ping = da.exec("cb:ping", "10.77.0.2");
            assertEquals(0, ping.exit(), ping.out() + ping.err());
            assertTrue(ping.out().contains("3 sent, 3 received"), ping.out());
            assertTrue(ping.out().contains("path=direct (UDP)"), "no relay and no hole punching: the socket to the endpoint: " + ping.out());
            Daemon.Result back = db.exec("cb:ping", a[1], "2");
            assertEquals(0, back.exit(), back.out() + back.err());
            assertTrue(back.out().contains("reply from 10.77.0.1"), back.out());
            String show = db.exec("wg:show").out();
            assertTrue(show.contains("peer: " + a[1]), show);
            assertTrue(show.contains("latest handshake: 0 seconds ago") || show.contains("latest handshake: 1 seconds ago"), show);
            assertTrue(show.contains("interface: cbitb (userspace)"), show);
            assertTrue(show.contains("path: direct (UDP)"), show);
            assertTrue(da.exec("cb:status").out().contains("features:        core, overlay, shell")
                    || da.exec("cb:status").out().contains("overlay"), da.exec("cb:status").out());
            Daemon.Result nobody = da.exec("cb:ping", "10.77.0.99", "1");
            assertEquals(1, nobody.exit(), "no peer routes there: " + nobody.out());

            // A peer added by a configuration edit joins in place: the interface and the running
            // session with b stay (the interface is brought up once).
            String[] c = keyPair();
            String edited = Files.readString(nodeA.config).replace("allowedIps=10.77.0.2/32\"]",
                    "allowedIps=10.77.0.2/32\", \"publicKey=" + c[1] + " allowedIps=10.77.0.3/32\"]");
            RuntimeTestSupport.writeOwnerOnly(nodeA.config, edited);
            Await.until(java.time.Duration.ofSeconds(5), "peers updated in place",
                    () -> da.logText().contains("updated in place: 2 peers"));
            assertTrue(da.exec("wg:show").out().contains("peer: " + c[1]));
            assertEquals(0, da.exec("cb:ping", "10.77.0.2", "1").exit());
            assertEquals(1, da.logText().split("WireGuard interface cbita up", -1).length - 1, "brought up once");
        }
    }

    @Test
    void aBadPeerEntryStopsTheStart() throws Exception {
        Daemon d = new Daemon(work);
        RuntimeTestSupport.writeOwnerOnly(d.config, String.join("\n",
                "kernel:", "  features: [core, overlay]",
                "wireguard:", "  userspace: true", "  uapiDirectory: \"\"", "  listenPort: 0",
                "  peers: [\"publicKey=notakey endpoint=example.com:1\"]", ""));
        Process p = d.launch();
        try {
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), "the daemon should stop on its own");
            assertEquals(78, p.exitValue(), d.logText());
            assertTrue(d.logText().contains("wireguard: peers[0]"), d.logText());
        } finally {
            p.destroyForcibly();
        }
    }
}
