package io.cloudbridge.itest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import java.io.ByteArrayOutputStream;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * CONNECT-IP (RFC 9484) through the relay's gateway: a client with a node token of tenant acme is
 * assigned an overlay address of acme (ADDRESS_ASSIGN), told acme's prefixes (ROUTE_ADVERTISEMENT),
 * and pings a WireGuard node of acme (a real node, in userspace mode) through the gateway peer,
 * which the node has from its network map. It cannot reach tenant other's node, nor send from
 * another address than its own; malformed packets and requests get dropped or their status. The
 * client is written field by field on Netty's HTTP/3 codec (no CONNECT-IP client library exists
 * here), its capsules and ICMP packets by hand from the RFCs.
 */
public class ConnectIpTest {
    static final String TEMPLATE = "/.well-known/masque/ip/%s/%s/";

    @TempDir
    Path work;
    private Daemon relay;
    private final List<Daemon> nodes = new ArrayList<>();
    private int quicPort;
    private int controlPort;

    @AfterEach
    void stop() throws Exception {
        for (Daemon n : nodes) {
            n.close();
        }
        if (relay != null) {
            relay.close();
        }
    }

    private Daemon node(String name, String tenant) throws Exception {
        String key = relay.exec("relay:key", "create", "--tenant", tenant, "--reusable").out().trim();
        Path dir = Files.createDirectories(work.resolve(name));
        Path keyFile = dir.resolve("preauth.key");
        RuntimeTestSupport.writeOwnerOnly(keyFile, key + "\n");
        Daemon n = new Daemon(dir);
        n.command = "up";
        RuntimeTestSupport.writeOwnerOnly(n.config, RuntimeTestSupport.nodeYaml(dir, name, controlPort,
                "  transports: [quic://127.0.0.1:" + quicPort + "]", "ice:", "  directPaths: false"));
        nodes.add(n);
        n.start("--pre-auth-key-file", keyFile.toString(), "--userspace");
        return n;
    }

    private static String address(Daemon n) {
        Await.until(Duration.ofSeconds(20), "registered", () -> !n.whoami("address").isEmpty());
        return n.whoami("address").split(" ")[0].split("/")[0];
    }

    @Test
    void aClientPingsANodeOfItsTenantThroughTheGatewayAndReachesNothingElse() throws Exception {
        controlPort = RuntimeTestSupport.freeTcpPort();
        quicPort = RuntimeTestSupport.freeUdpPort();
        relay = new Daemon(Files.createDirectories(work.resolve("relay")));
        relay.command = "relay";
        RuntimeTestSupport.writeOwnerOnly(relay.config, RuntimeTestSupport.masqueRelayYaml(controlPort, quicPort, "  maxTunnelsPerClient: 8"));
        relay.start();
        Await.until(Duration.ofSeconds(20), "the MASQUE proxy up; log:\n" + relay.logText(),
                () -> relay.logText().contains("MASQUE proxy on the relay's QUIC listener"));
        Daemon acme = node("a1", "acme");
        Daemon other = node("o1", "other");
        String acmeAddress = address(acme);
        String otherAddress = address(other);

        String acmeToken;
        String otherToken;
        ManagedChannel channel = ControlPlaneTest.channel(controlPort);
        try {
            String acmeKey = relay.exec("relay:key", "create", "--tenant", "acme").out().trim();
            String otherKey = relay.exec("relay:key", "create", "--tenant", "other").out().trim();
            acmeToken = ControlPlaneTest.register(channel, acmeKey, RelayAbuseTest.randomKey()).getToken().getJwt();
            otherToken = ControlPlaneTest.register(channel, otherKey, RelayAbuseTest.randomKey()).getToken().getJwt();
        } finally {
            channel.shutdownNow();
        }

        try (RawH3 h3 = new RawH3(quicPort)) {
            // What the RFCs and the policy refuse, each with its status.
            assertEquals("401", h3.connect("connect-ip", path("*", "*"), null, true).status.get(10, TimeUnit.SECONDS));
            assertEquals("401", h3.connect("connect-ip", path("*", "*"), acmeToken + "x", true).status.get(10, TimeUnit.SECONDS));
            assertEquals("400", h3.connect("connect-ip", path("*", "*"), acmeToken, false).status.get(10, TimeUnit.SECONDS));
            assertEquals("400", h3.connect("connect-ip", path("*", "256"), acmeToken, true).status.get(10, TimeUnit.SECONDS));
            assertEquals("400", h3.connect("connect-ip", path("example.lab", "*"), acmeToken, true).status.get(10, TimeUnit.SECONDS));
            assertEquals("403", h3.connect("connect-ip", path(acmeAddress, "*"), otherToken, true).status.get(10, TimeUnit.SECONDS),
                    "tenant other's client asks for acme's node");
            assertEquals("404", h3.connect("connect-ip", "/.well-known/masque/ipx/*/*/", acmeToken, true).status.get(10, TimeUnit.SECONDS));

            RawH3.Request session = h3.connect("connect-ip", path("*", "*"), acmeToken, true);
            assertEquals("200", session.status.get(10, TimeUnit.SECONDS), "relay log:\n" + relay.logText());
            List<Capsule> first = capsules(session, 2);
            assertEquals(1, first.get(0).type, "ADDRESS_ASSIGN first");
            List<Object[]> assigned = addresses(first.get(0).value);
            assertEquals(2, assigned.size());
            assertEquals(0L, assigned.get(0)[0], "unsolicited: request id 0");
            InetAddress mine = (InetAddress) assigned.get(0)[1];
            assertEquals(4, mine.getAddress().length);
            assertEquals(32, assigned.get(0)[2]);
            assertEquals(128, assigned.get(1)[2]);
            assertEquals(3, first.get(1).type, "then ROUTE_ADVERTISEMENT");
            byte[] routes = first.get(1).value;
            assertEquals(4, routes[0], "IPv4 range first");
            InetAddress start = InetAddress.getByAddress(Arrays.copyOfRange(routes, 1, 5));
            InetAddress end = InetAddress.getByAddress(Arrays.copyOfRange(routes, 5, 9));
            assertTrue(inRange(InetAddress.getByName(acmeAddress), start, end) && inRange(mine, start, end),
                    "acme's node and the client inside the advertised range " + start + "-" + end);
            assertTrue(!inRange(InetAddress.getByName(otherAddress), start, end), "tenant other's node outside it");

            // The node learns the gateway and the client's address from its map before it would accept the packets.
            String mineText = mine.getHostAddress();
            Await.until(Duration.ofSeconds(10), "acme's node has the gateway with the client's address",
                    () -> acme.exec("wg:show").out().contains(mineText + "/32"));

            long quarter = session.quarter();
            byte[] ping = icmpEcho(mine, InetAddress.getByName(acmeAddress), 0x4242, 1);
            byte[] reply = echo(h3, quarter, ping, Duration.ofSeconds(15));
            assertTrue(reply != null, "no echo reply from acme's node through the gateway; relay:\n" + relay.exec("masque:tunnels").out()
                    + "\nnode:\n" + acme.exec("wg:show").out());
            assertEquals(InetAddress.getByName(acmeAddress), InetAddress.getByAddress(Arrays.copyOfRange(reply, 12, 16)), "from the node");
            assertEquals(mine, InetAddress.getByAddress(Arrays.copyOfRange(reply, 16, 20)), "to the client");
            assertEquals(0, reply[20], "ICMP echo reply");
            h3.datagrams.clear();

            // The gateway's WireGuard is the overlay bundle's engine, and the relay needs no TUN for it:
            // no TUN bundle is installed, and the node's interface component (wg:show) stays inactive.
            String bundles = relay.exec("lb", "-s").out();
            assertTrue(bundles.contains("io.cloudbridge.wireguard") && !bundles.contains("io.cloudbridge.tun"),
                    "the engine's bundle, without the TUN bundle:\n" + bundles);
            Daemon.Result wgShow = relay.exec("wg:show");
            assertTrue(wgShow.exit() != 0 && wgShow.err().contains("Command not found: wg:show"),
                    "no node interface on the relay: " + wgShow.out() + wgShow.err());

            // Tenant other's node, another source address, a malformed packet: dropped and counted, nothing comes back.
            h3.datagram(datagram(quarter, icmpEcho(mine, InetAddress.getByName(otherAddress), 0x4242, 2)));
            h3.datagram(datagram(quarter, icmpEcho(InetAddress.getByName(otherAddress), InetAddress.getByName(acmeAddress), 0x4242, 3)));
            byte[] cut = Arrays.copyOf(ping, 30);
            h3.datagram(datagram(quarter, cut));
            Await.until(Duration.ofSeconds(5), "the three counted", () -> {
                String t = relay.exec("masque:tunnels").out();
                return t.contains("from client: destination outside the tenant's overlay=1")
                        && t.contains("from client: source is not the assigned address=1")
                        && t.contains("from client: malformed: IPv4 total length disagrees with the packet=1");
            });
            assertEquals(null, h3.datagrams.poll(1, TimeUnit.SECONDS), "nothing came back for them");
            String otherSide = other.exec("wg:show").out();
            assertTrue(!otherSide.contains(mineText), "tenant other's node never heard of acme's client:\n" + otherSide);

            // An ADDRESS_REQUEST is answered with the session's address under its request id.
            session.send(capsule(2, concatAll(varint(7), new byte[] {4}, new byte[4], new byte[] {32})));
            List<Capsule> answer = capsules(session, 1);
            assertEquals(1, answer.get(0).type);
            List<Object[]> again = addresses(answer.get(0).value);
            assertEquals(2, again.size(), "every address the client holds (RFC 9484 section 4.7.1)");
            assertEquals(7L, again.get(0)[0], "the IPv4 address under the request's id");
            assertEquals(mine, again.get(0)[1]);
            assertEquals(0L, again.get(1)[0], "the IPv6 address, not asked for: id 0");

            // Malformed capsules abort their session's stream: a request id 0 (RFC 9484 section 4.7.1), a
            // DATAGRAM capsule far over any IP packet this gateway carries.
            RawH3.Request zero = h3.connect("connect-ip", path("*", "*"), acmeToken, true);
            assertEquals("200", zero.status.get(10, TimeUnit.SECONDS));
            zero.send(capsule(2, concatAll(varint(0), new byte[] {4}, new byte[4], new byte[] {32})));
            Await.until(Duration.ofSeconds(10), "the request id 0 aborted; relay log:\n" + relay.logText(),
                    () -> relay.logText().contains("aborted: ADDRESS_REQUEST with request id 0"));
            zero.ended.get(10, TimeUnit.SECONDS);
            RawH3.Request big = h3.connect("connect-ip", path("*", "*"), acmeToken, true);
            assertEquals("200", big.status.get(10, TimeUnit.SECONDS));
            big.send(capsule(0, concatAll(new byte[] {0}, new byte[4000])));
            big.ended.get(10, TimeUnit.SECONDS);
            Await.until(Duration.ofSeconds(5), "both aborted and logged", () -> relay.logText().contains("aborted: ADDRESS_REQUEST with request id 0")
                    && relay.logText().contains("aborted: a capsule of type 0 and 4001 bytes"));

            // Ending the stream ends the session: the address leaves the node's map.
            session.stream.shutdownOutput().sync();
            Await.until(Duration.ofSeconds(10), "the session over and the client's address gone from the node",
                    () -> relay.exec("masque:tunnels").out().contains("0 CONNECT-IP sessions") && !acme.exec("wg:show").out().contains(mineText + "/32"));
            // The same client coming back gets the address it had.
            RawH3.Request back = h3.connect("connect-ip", path("*", "*"), acmeToken, true);
            assertEquals("200", back.status.get(10, TimeUnit.SECONDS));
            assertEquals(mine, addresses(capsules(back, 1).get(0).value()).get(0)[1]);
            back.stream.shutdownOutput().sync();
            Await.until(Duration.ofSeconds(10), "that session over too", () -> relay.exec("masque:tunnels").out().contains("0 CONNECT-IP sessions"));
            // The tenant's access policy names CONNECT-IP clients by who they are, like nodes: a client
            // signed in as a node tagged vpn may ping a1, the untagged one may not, and a1 may not open
            // a flow to a client (the gateway refuses it, by the policy compiled for its clients).
            String vpnToken;
            ManagedChannel vpnChannel = ControlPlaneTest.channel(controlPort);
            try {
                String vpnKey = relay.exec("relay:key", "create", "--tenant", "acme", "--tag", "tag:vpn").out().trim();
                vpnToken = ControlPlaneTest.register(vpnChannel, vpnKey, RelayAbuseTest.randomKey()).getToken().getJwt();
            } finally {
                vpnChannel.shutdownNow();
            }
            Path policy = work.resolve("acme-policy.yaml");
            Files.writeString(policy, String.join("\n", "tags:", "  tag:vpn: []", "rules:", "  - name: vpn clients ping a1",
                    "    action: accept", "    src: [tag:vpn]", "    dst: [node:a1]", "    proto: icmp", ""));
            Daemon.Result set = relay.exec("relay:policy", "set", "--tenant", "acme", policy.toString());
            assertTrue(set.out().contains("policy version 1 in force"), set.out() + set.err());
            Await.until(Duration.ofSeconds(10), "a1's filter in force", () -> acme.exec("cb:policy").out().contains("version 1"));
            RawH3.Request vpn = h3.connect("connect-ip", path("*", "*"), vpnToken, true);
            assertEquals("200", vpn.status.get(10, TimeUnit.SECONDS));
            InetAddress vpnAddress = (InetAddress) addresses(capsules(vpn, 2).get(0).value()).get(0)[1];
            Await.until(Duration.ofSeconds(10), "a1 has the tagged client's address from its map",
                    () -> acme.exec("wg:show").out().contains(vpnAddress.getHostAddress() + "/32"));
            byte[] allowed = echo(h3, vpn.quarter(), icmpEcho(vpnAddress, InetAddress.getByName(acmeAddress), 0x4343, 1),
                    Duration.ofSeconds(15));
            assertTrue(allowed != null, "the tagged client's echo is answered; a1:\n" + acme.exec("cb:policy").out());
            RawH3.Request plain = h3.connect("connect-ip", path("*", "*"), acmeToken, true);
            assertEquals("200", plain.status.get(10, TimeUnit.SECONDS));
            InetAddress plainAddress = (InetAddress) addresses(capsules(plain, 2).get(0).value()).get(0)[1];
            assertEquals(null, echo(h3, plain.quarter(), icmpEcho(plainAddress, InetAddress.getByName(acmeAddress), 0x4444, 1),
                    Duration.ofSeconds(3)), "the untagged client's echo is refused by a1's filter");
            Await.until(Duration.ofSeconds(5), "a1 counted the refusal", () -> acme.exec("cb:policy").out().matches("(?s).*default deny [1-9].*"));
            Daemon.Result toClient = acme.exec("cb:ping", vpnAddress.getHostAddress(), "1");
            assertTrue(toClient.exit() != 0, "a1 may not open a flow to a client: " + toClient.out());
            Await.until(Duration.ofSeconds(5), "the gateway refused a1's echo by the policy",
                    () -> relay.exec("masque:tunnels").out().contains("the tenant's policy refused {default deny="));
            vpn.stream.shutdownOutput().sync();
            plain.stream.shutdownOutput().sync();
            String carried = relay.exec("masque:tunnels").out();
            System.out.println("CONNECT-IP: " + carried);
            assertTrue(!carried.contains("gateway of tenant other"), "a refused request makes no gateway:\n" + carried);
        }
    }

    /** Sends {@code ping} on the session until a datagram comes back or {@code within} passes; the packet that came back, or null. */
    static byte[] echo(RawH3 h3, long quarter, byte[] ping, Duration within) throws Exception {
        h3.datagrams.clear();
        long deadline = System.nanoTime() + within.toNanos();
        while (System.nanoTime() < deadline) {
            h3.datagram(datagram(quarter, ping));
            byte[] d = h3.datagrams.poll(500, TimeUnit.MILLISECONDS);
            if (d != null) {
                return Arrays.copyOfRange(d, 2, d.length);
            }
        }
        return null;
    }

    public static String path(String target, String ipproto) {
        return String.format(TEMPLATE, target, ipproto);
    }

    static boolean inRange(InetAddress a, InetAddress start, InetAddress end) {
        return Arrays.compareUnsigned(a.getAddress(), start.getAddress()) >= 0 && Arrays.compareUnsigned(a.getAddress(), end.getAddress()) <= 0;
    }

    public record Capsule(long type, byte[] value) {
    }

    /** An IPv6 packet with an ICMPv6 echo request (RFC 8200, RFC 4443), its checksum over the pseudo-header. */
    public static byte[] icmp6Echo(InetAddress from, InetAddress to, int id, int sequence) {
        byte[] data = "connect-ip".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        ByteBuffer icmp = ByteBuffer.allocate(8 + data.length);
        icmp.put((byte) 128).put((byte) 0).putShort((short) 0).putShort((short) id).putShort((short) sequence).put(data);
        byte[] i = icmp.array();
        ByteBuffer pseudo = ByteBuffer.allocate(40 + i.length);
        pseudo.put(from.getAddress()).put(to.getAddress()).putInt(i.length).put(new byte[3]).put((byte) 58).put(i);
        int sum = checksum(pseudo.array());
        i[2] = (byte) (sum >> 8);
        i[3] = (byte) sum;
        ByteBuffer ip = ByteBuffer.allocate(40 + i.length);
        ip.putInt(0x60000000).putShort((short) i.length).put((byte) 58).put((byte) 64).put(from.getAddress()).put(to.getAddress()).put(i);
        return ip.array();
    }

    /** Reads {@code count} capsules from the stream (RFC 9297 section 3.2: type, length, value; varints of RFC 9000 section 16). */
    public static List<Capsule> capsules(RawH3.Request r, int count) throws Exception {
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        List<Capsule> out = new ArrayList<>();
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (System.nanoTime() < deadline) {
            byte[] next = r.data.poll(200, TimeUnit.MILLISECONDS);
            if (next != null) {
                got.writeBytes(next);
            }
            ByteBuffer b = ByteBuffer.wrap(got.toByteArray());
            out.clear();
            while (b.hasRemaining()) {
                int mark = b.position();
                long type = readVarint(b);
                long length = type < 0 ? -1 : readVarint(b);
                if (length < 0 || b.remaining() < length) {
                    b.position(mark);
                    break;
                }
                byte[] value = new byte[(int) length];
                b.get(value);
                out.add(new Capsule(type, value));
            }
            if (out.size() >= count) {
                return out;
            }
        }
        throw new AssertionError("only " + out.size() + " capsules of " + count + " came");
    }

    private static long readVarint(ByteBuffer b) {
        if (!b.hasRemaining()) {
            return -1;
        }
        int first = b.get(b.position()) & 0xff;
        int length = 1 << (first >> 6);
        if (b.remaining() < length) {
            return -1;
        }
        long v = b.get() & 0x3f;
        for (int i = 1; i < length; i++) {
            v = (v << 8) | (b.get() & 0xff);
        }
        return v;
    }

    public static byte[] varint(long v) {
        if (v < 64) {
            return new byte[] {(byte) v};
        }
        return new byte[] {(byte) (0x40 | (v >> 8)), (byte) v}; // below 16,384: all this test sends
    }

    public static byte[] capsule(long type, byte[] value) {
        return concatAll(varint(type), varint(value.length), value);
    }

    /** ADDRESS_ASSIGN's entries (RFC 9484 section 4.7.1): request id, version, address, prefix length. */
    public static List<Object[]> addresses(byte[] value) throws Exception {
        ByteBuffer b = ByteBuffer.wrap(value);
        List<Object[]> out = new ArrayList<>();
        while (b.hasRemaining()) {
            long id = readVarint(b);
            int version = b.get();
            byte[] a = new byte[version == 4 ? 4 : 16];
            b.get(a);
            out.add(new Object[] {id, InetAddress.getByAddress(a), b.get() & 0xff});
        }
        return out;
    }

    /** An HTTP Datagram: quarter stream id, context id 0, the IP packet (RFC 9297, RFC 9484 section 6). */
    public static byte[] datagram(long quarter, byte[] packet) {
        return concatAll(varint(quarter), new byte[] {0}, packet);
    }

    /** An IPv4 packet with an ICMP echo request (RFC 791, RFC 792), checksums included. */
    public static byte[] icmpEcho(InetAddress from, InetAddress to, int id, int sequence) {
        return icmpEcho(from, to, id, sequence, 10);
    }

    /** The same with {@code payloadLength} bytes of echo data (the packet is 28 bytes more). */
    public static byte[] icmpEcho(InetAddress from, InetAddress to, int id, int sequence, int payloadLength) {
        byte[] payload = new byte[payloadLength];
        byte[] text = "connect-ip".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        System.arraycopy(text, 0, payload, 0, Math.min(text.length, payloadLength));
        ByteBuffer icmp = ByteBuffer.allocate(8 + payload.length);
        icmp.put((byte) 8).put((byte) 0).putShort((short) 0).putShort((short) id).putShort((short) sequence).put(payload);
        byte[] i = icmp.array();
        int sum = checksum(i);
        i[2] = (byte) (sum >> 8);
        i[3] = (byte) sum;
        ByteBuffer ip = ByteBuffer.allocate(20 + i.length);
        ip.put((byte) 0x45).put((byte) 0).putShort((short) (20 + i.length)).putShort((short) sequence).putShort((short) 0)
                .put((byte) 64).put((byte) 1).putShort((short) 0).put(from.getAddress()).put(to.getAddress()).put(i);
        byte[] p = ip.array();
        int h = checksum(Arrays.copyOf(p, 20));
        p[10] = (byte) (h >> 8);
        p[11] = (byte) h;
        return p;
    }

    private static int checksum(byte[] b) {
        long sum = 0;
        for (int k = 0; k + 1 < b.length; k += 2) {
            sum += ((b[k] & 0xff) << 8) | (b[k + 1] & 0xff);
        }
        if (b.length % 2 == 1) {
            sum += (b[b.length - 1] & 0xff) << 8;
        }
        while (sum >> 16 != 0) {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        return (int) (~sum & 0xffff);
    }

    public static byte[] concatAll(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }
}
