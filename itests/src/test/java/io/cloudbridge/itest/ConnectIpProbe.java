package io.cloudbridge.itest;

import com.google.protobuf.ByteString;
import io.cloudbridge.control.v1.ControlServiceGrpc;
import io.cloudbridge.control.v1.NodeInfo;
import io.cloudbridge.control.v1.RegisterRequest;
import io.grpc.ManagedChannel;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import java.net.InetAddress;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A CONNECT-IP client as its own process, for tests that run it inside a network namespace:
 * registers with a pre-auth key (a node token of its tenant), opens a CONNECT-IP session at the
 * relay's proxy, and pings the given IPv4 and IPv6 overlay addresses through it. Prints one line
 * per reply; exits 0 when both answered, 1 otherwise.
 *
 * <p>Usage: {@code ConnectIpProbe RELAY_HOST QUIC_PORT CONTROL_PORT PRE_AUTH_KEY NODE_V4 NODE_V6}
 */
public final class ConnectIpProbe {
    public static void main(String[] args) throws Exception {
        String host = args[0];
        int quicPort = Integer.parseInt(args[1]);
        int controlPort = Integer.parseInt(args[2]);
        InetAddress v4 = InetAddress.getByName(args[4]);
        InetAddress v6 = InetAddress.getByName(args[5]);
        String token = register(host, controlPort, args[3]);
        try (RawH3 h3 = new RawH3(host, quicPort)) {
            RawH3.Request session = h3.connect("connect-ip", ConnectIpTest.path("*", "*"), token, true);
            String status = session.status.get(10, TimeUnit.SECONDS);
            if (!"200".equals(status)) {
                System.out.println("refused: " + status + " " + new String(session.drain(500)));
                System.exit(1);
            }
            List<Object[]> assigned = ConnectIpTest.addresses(ConnectIpTest.capsules(session, 1).get(0).value());
            InetAddress mine4 = (InetAddress) assigned.get(0)[1];
            InetAddress mine6 = (InetAddress) assigned.get(1)[1];
            System.out.println("assigned " + mine4.getHostAddress() + " " + mine6.getHostAddress());
            boolean four = ping(h3, session.quarter(), ConnectIpTest.icmpEcho(mine4, v4, 0x4343, 1), v4, 12, 20);
            boolean six = ping(h3, session.quarter(), ConnectIpTest.icmp6Echo(mine6, v6, 0x4343, 1), v6, 8, 40);
            System.exit(four && six ? 0 : 1);
        }
    }

    /** Sends the echo every 500 ms until a reply from {@code from} comes (20 s at most); {@code sourceAt}: where its source starts. */
    private static boolean ping(RawH3 h3, long quarter, byte[] echo, InetAddress from, int sourceAt, int typeAt) throws Exception {
        long start = System.nanoTime();
        long deadline = start + TimeUnit.SECONDS.toNanos(20);
        while (System.nanoTime() < deadline) {
            h3.datagram(ConnectIpTest.datagram(quarter, echo));
            byte[] d = h3.datagrams.poll(500, TimeUnit.MILLISECONDS);
            if (d == null) {
                continue;
            }
            byte[] packet = Arrays.copyOfRange(d, 2, d.length);
            int length = from.getAddress().length;
            if (packet.length > typeAt && InetAddress.getByAddress(Arrays.copyOfRange(packet, sourceAt, sourceAt + length)).equals(from)) {
                System.out.printf("reply from %s, ICMP type %d, after %d ms%n", from.getHostAddress(), packet[typeAt] & 0xff,
                        TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
                return true;
            }
        }
        System.out.println("no reply from " + from.getHostAddress());
        return false;
    }

    /** Registers a fresh key with the tenant's pre-auth key: its node token is a CONNECT-IP client's credential. */
    public static String register(String host, int controlPort, String preAuthKey) throws Exception {
        ManagedChannel channel = NettyChannelBuilder.forAddress(host, controlPort)
                .sslContext(GrpcSslContexts.forClient().trustManager(InsecureTrustManagerFactory.INSTANCE).build()).build();
        try {
            byte[] key = new byte[32];
            new SecureRandom().nextBytes(key);
            io.cloudbridge.control.v1.RegisterResponse r = ControlServiceGrpc.newBlockingStub(channel).withDeadlineAfter(20, TimeUnit.SECONDS)
                    .register(RegisterRequest.newBuilder().setPreAuthKey(preAuthKey).setNode(NodeInfo.newBuilder()
                            .setWireguardPublicKey(ByteString.copyFrom(key)).setHostname("connect-ip-probe").setOs("linux/amd64")).build());
            System.out.println("registered as node " + r.getNodeId()); // for the test to remove it from the tenant afterwards
            return r.getToken().getJwt();
        } finally {
            channel.shutdownNow();
        }
    }
}
