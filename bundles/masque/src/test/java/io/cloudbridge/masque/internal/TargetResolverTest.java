package io.cloudbridge.masque.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.handler.codec.dns.DatagramDnsQuery;
import io.netty.handler.codec.dns.DatagramDnsQueryDecoder;
import io.netty.handler.codec.dns.DatagramDnsResponse;
import io.netty.handler.codec.dns.DatagramDnsResponseEncoder;
import io.netty.handler.codec.dns.DefaultDnsRawRecord;
import io.netty.handler.codec.dns.DnsQuestion;
import io.netty.handler.codec.dns.DnsRecordType;
import io.netty.handler.codec.dns.DnsResponseCode;
import io.netty.handler.codec.dns.DnsSection;
import io.netty.util.concurrent.Future;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * How the proxy resolves CONNECT-UDP targets (issue 23 item 4): asynchronously, against real name
 * servers on loopback. A "silent" server is a UDP socket that reads queries and never answers, as
 * an attacker's authoritative server would; an answering one is a small DNS server made of Netty's
 * codec that knows {@code *.lab.test}.
 */
class TargetResolverTest {
    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private final List<AutoCloseable> closing = new ArrayList<>();
    /** Queries the answering server received. */
    private final AtomicInteger answered = new AtomicInteger();

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable c : closing) {
            c.close();
        }
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
    }

    private String silentServer() throws Exception {
        DatagramSocket silent = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        closing.add(silent);
        return "127.0.0.1:" + silent.getLocalPort();
    }

    /** Answers A queries for NAME.lab.test with 192.0.2.7, everything else NXDOMAIN. */
    private String answeringServer() throws Exception {
        Channel server = new Bootstrap().group(group).channel(NioDatagramChannel.class)
                .handler(new io.netty.channel.ChannelInitializer<NioDatagramChannel>() {
                    @Override
                    protected void initChannel(NioDatagramChannel ch) {
                        ch.pipeline().addLast(new DatagramDnsQueryDecoder(), new DatagramDnsResponseEncoder(),
                                new SimpleChannelInboundHandler<DatagramDnsQuery>() {
                                    @Override
                                    protected void channelRead0(ChannelHandlerContext ctx, DatagramDnsQuery query) {
                                        answered.incrementAndGet();
                                        DnsQuestion q = query.recordAt(DnsSection.QUESTION);
                                        DatagramDnsResponse r = new DatagramDnsResponse(query.recipient(), query.sender(), query.id());
                                        r.setRecursionAvailable(true);
                                        r.addRecord(DnsSection.QUESTION, q);
                                        boolean ours = q.name().endsWith(".lab.test.");
                                        if (ours && q.type() == DnsRecordType.A) {
                                            r.addRecord(DnsSection.ANSWER, new DefaultDnsRawRecord(q.name(), DnsRecordType.A, 60,
                                                    Unpooled.wrappedBuffer(new byte[] {(byte) 192, 0, 2, 7})));
                                        } else if (!ours) {
                                            r.setCode(DnsResponseCode.NXDOMAIN);
                                        }
                                        ctx.writeAndFlush(r);
                                    }
                                });
                    }
                }).bind(InetAddress.getLoopbackAddress(), 0).sync().channel();
        closing.add(() -> server.close().sync());
        return "127.0.0.1:" + ((InetSocketAddress) server.localAddress()).getPort();
    }

    private TargetResolver resolver(List<String> servers, long timeoutMillis) {
        TargetResolver r = new TargetResolver(group.next(), servers, timeoutMillis);
        closing.add(r);
        return r;
    }

    /** The future's outcome, waited for at most {@code seconds} (a deadline for the test, not a measurement). */
    private static Throwable failure(Future<List<InetAddress>> f, long seconds) throws InterruptedException {
        assertTrue(f.await(seconds, TimeUnit.SECONDS), "the look-up ended");
        assertTrue(!f.isSuccess(), "it failed");
        return f.cause();
    }

    @Test
    void aNameTheServersKnowResolves() throws Exception {
        TargetResolver r = resolver(List.of(answeringServer()), 5000);
        List<InetAddress> found = r.resolve("tunnel.lab.test").get(10, TimeUnit.SECONDS);
        assertEquals(List.of(InetAddress.getByName("192.0.2.7")), found.stream().filter(a -> a.getAddress().length == 4).toList());
        Throwable unknown = failure(r.resolve("nowhere.invalid"), 10);
        assertTrue(unknown instanceof UnknownHostException && !(unknown instanceof TargetResolver.ResolveTimeoutException), unknown.toString());
    }

    /**
     * A name under a server that never answers: the look-up ends with a timeout by its deadline
     * instead of whenever the resolver gives up, and holds no thread meanwhile (the loop it runs
     * on serves other look-ups, here one against an answering server, at once).
     */
    @Test
    void aSilentServerEndsTheLookUpAtItsDeadlineAndBlocksNothing() throws Exception {
        TargetResolver silent = resolver(List.of(silentServer()), 2000);
        List<Future<List<InetAddress>>> stuck = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            stuck.add(silent.resolve("n" + i + ".silent.test"));
        }
        TargetResolver answering = resolver(List.of(answeringServer()), 5000);
        List<InetAddress> meanwhile = answering.resolve("meanwhile.lab.test").get(10, TimeUnit.SECONDS);
        assertTrue(meanwhile.contains(InetAddress.getByName("192.0.2.7")));
        assertTrue(stuck.stream().noneMatch(Future::isDone), "the silent server's look-ups were still waiting meanwhile");
        for (Future<List<InetAddress>> f : stuck) {
            Throwable t = failure(f, 10);
            assertTrue(t instanceof TargetResolver.ResolveTimeoutException, t.toString());
            assertTrue(t.getMessage().contains("within 2000 ms"), t.getMessage());
        }
    }

    /** An address literal is its own answer: no query is sent, even to a silent server. */
    @Test
    void anAddressLiteralNeedsNoLookUp() throws Exception {
        TargetResolver r = resolver(List.of(answeringServer()), 5000);
        Future<List<InetAddress>> v4 = r.resolve("198.51.100.4");
        assertTrue(v4.isDone(), "answered without the loop");
        assertEquals(List.of(InetAddress.getByName("198.51.100.4")), v4.get());
        assertEquals(List.of(InetAddress.getByName("2001:db8::4")), r.resolve("2001:db8::4").get());
        assertEquals(0, answered.get(), "no query sent");
    }

    @Test
    void nameServersAreAddressesWithAnOptionalPort() {
        assertEquals(List.of(new InetSocketAddress("192.0.2.53", 53), new InetSocketAddress("192.0.2.53", 5353),
                new InetSocketAddress("2001:db8::53", 53), new InetSocketAddress("2001:db8::53", 5300),
                new InetSocketAddress("2001:db8::54", 53)),
                TargetResolver.parse(List.of("192.0.2.53", "192.0.2.53:5353", "[2001:db8::53]", "[2001:db8::53]:5300", "2001:db8::54")));
        for (String bad : new String[] {"dns.example", "dns.example:53", "192.0.2.53:0", "192.0.2.53:x", "[2001:db8::53", "[::1]:70000"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TargetResolver.parse(List.of(bad)), bad);
            assertTrue(e.getMessage().contains("masque.nameservers"), e.getMessage());
        }
    }
}
