package io.cloudbridge.relay.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.cloudbridge.api.relay.RelayIdentity;
import io.cloudbridge.relay.spi.QuicRoute;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.handler.codec.quic.Quic;
import io.netty.handler.codec.quic.QuicChannel;
import io.netty.handler.codec.quic.QuicClientCodecBuilder;
import io.netty.handler.codec.quic.QuicSslContext;
import io.netty.handler.codec.quic.QuicSslContextBuilder;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import java.io.FileInputStream;
import java.lang.annotation.Annotation;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 23, item 1: the relay's QUIC listener read every tenant's transport and h3 traffic on one
 * event loop, so whatever one connection's work cost (a CONNECT-IP gateway's handshakes among it)
 * held up all others. With epoll it now reads as many sockets on the QUIC port as it has loops
 * (SO_REUSEPORT), and clients are spread over them.
 */
class QuicListenerLoopsTest {
    static final int CLIENTS = 24;
    @TempDir
    Path dir;
    final QuicListener listener = new QuicListener();
    final EventLoopGroup clients = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    final List<Channel> clientSockets = new ArrayList<>();

    @AfterEach
    void close() {
        clientSockets.forEach(Channel::close);
        clients.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        listener.deactivate();
    }

    @Test
    void connectionsAreServedOnEveryEventLoop() throws Exception {
        assumeTrue(Quic.isAvailable() && Epoll.isAvailable(), "needs QUIC's native code and epoll");
        Set<EventLoop> loopsServing = ConcurrentHashMap.newKeySet();
        Set<QuicChannel> accepted = ConcurrentHashMap.newKeySet();
        CountDownLatch allAccepted = new CountDownLatch(CLIENTS);
        listener.addRoute(new QuicRoute() {
            @Override
            public String alpn() {
                return "cloudbridge/1";
            }

            @Override
            public void accept(QuicChannel connection) {
                loopsServing.add(connection.eventLoop());
                if (accepted.add(connection)) {
                    allAccepted.countDown();
                }
            }
        });
        listener.start(identity(), config(2));

        List<Channel> sockets = listener.sockets();
        assertEquals(2, sockets.size(), "one socket per event loop");
        assertEquals(2, sockets.stream().map(Channel::eventLoop).distinct().count(), "each socket on a loop of its own");
        assertEquals(1, sockets.stream().map(s -> ((InetSocketAddress) s.localAddress()).getPort()).distinct().count(),
                "all on the QUIC port");

        // Clients from as many source ports: the kernel spreads them over the sockets by their
        // addresses and ports (all on one of two has odds of 2^-23).
        QuicSslContext tls = QuicSslContextBuilder.forClient().trustManager(InsecureTrustManagerFactory.INSTANCE)
                .applicationProtocols("cloudbridge/1").build();
        for (int i = 0; i < CLIENTS; i++) {
            Channel udp = new Bootstrap().group(clients).channel(NioDatagramChannel.class)
                    .handler(new QuicClientCodecBuilder().sslContext(tls).maxIdleTimeout(10, TimeUnit.SECONDS)
                            .initialMaxData(1 << 16).initialMaxStreamDataBidirectionalLocal(1 << 16).build())
                    .bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
            clientSockets.add(udp);
            QuicChannel.newBootstrap(udp).handler(new ChannelInboundHandlerAdapter())
                    .remoteAddress(new InetSocketAddress("127.0.0.1", listener.port())).connect().get(10, TimeUnit.SECONDS);
        }
        assertTrue(allAccepted.await(10, TimeUnit.SECONDS), "every client's connection reached the route: " + accepted.size());
        assertEquals(2, loopsServing.size(), "connections are served on both loops, not one: " + loopsServing);
        assertTrue(sockets.stream().map(Channel::eventLoop).allMatch(loopsServing::contains));
    }

    @Test
    void zeroMeansOneLoopPerProcessor() {
        assertEquals(Runtime.getRuntime().availableProcessors(), QuicListener.eventLoops(config(0)));
        assertEquals(3, QuicListener.eventLoops(config(3)));
    }

    /** A self-signed identity made by the JDK's keytool. */
    private RelayIdentity identity() throws Exception {
        Path store = dir.resolve("relay.p12");
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "keytool").toString(), "-genkeypair",
                "-alias", "relay", "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=relay", "-validity", "2",
                "-storetype", "PKCS12", "-keystore", store.toString(), "-storepass", "changeit", "-keypass", "changeit")
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), out);
        assertTrue(Files.exists(store));
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (FileInputStream in = new FileInputStream(store.toFile())) {
            ks.load(in, "changeit".toCharArray());
        }
        PrivateKey key = (PrivateKey) ks.getKey("relay", "changeit".toCharArray());
        X509Certificate cert = (X509Certificate) ks.getCertificate("relay");
        return new RelayIdentity() {
            @Override
            public X509Certificate certificate() {
                return cert;
            }

            @Override
            public PrivateKey privateKey() {
                return key;
            }

            @Override
            public String fingerprint() {
                return "sha256:test";
            }
        };
    }

    private static ListenerConfig config(int loops) {
        return config(loops, -1, 20);
    }

    /** The listeners on loopback, on ports the system picks, but for the STUN responder's: {@code stunPort} (-1: none). */
    static ListenerConfig config(int loops, int stunPort, int stunAnswersPerSourcePerSecond) {
        return new ListenerConfig() {
            @Override
            public Class<? extends Annotation> annotationType() {
                return ListenerConfig.class;
            }

            @Override
            public String address() {
                return "127.0.0.1";
            }

            @Override
            public int tlsPort() {
                return 0;
            }

            @Override
            public int quicPort() {
                return 0;
            }

            @Override
            public int stunPort() {
                return stunPort;
            }

            @Override
            public int stunAnswersPerSourcePerSecond() {
                return stunAnswersPerSourcePerSecond;
            }

            @Override
            public int quicEventLoops() {
                return loops;
            }

            @Override
            public int quicIdleSeconds() {
                return 30;
            }

            @Override
            public int firstRequestSeconds() {
                return 10;
            }

            @Override
            public int routeRestartSeconds() {
                return 30;
            }
        };
    }
}
