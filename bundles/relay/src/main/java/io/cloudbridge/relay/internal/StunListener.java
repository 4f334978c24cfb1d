package io.cloudbridge.relay.internal;

import io.micrometer.core.instrument.MeterRegistry;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.DatagramPacket;
import io.netty.channel.socket.nio.NioDatagramChannel;
import java.net.InetSocketAddress;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The relay's STUN responder (UDP, port 3478 by default): answers Binding requests with the
 * address and port they came from, so that a node behind a NAT learns its server-reflexive
 * candidate for NAT traversal. {@code relay:stun} shows what it answered and dropped; the drops go
 * to Micrometer too when a registry is there ({@link RelayMeters}).
 *
 * <p>Answers are rate limited per source address (a spoofed source could otherwise aim the
 * answers at a victim, even if each is barely larger than its request): the limits live in a
 * fixed table of buckets indexed by the address's hash, so a flood of sources costs no memory.
 */
// The 'listeners' section's description is designated once, by TlsListener.
@Component(service = StunListener.class, configurationPid = "cloudbridge.listeners", immediate = true, property = {
    "osgi.command.scope=relay",
    "osgi.command.function=stun"
})
public final class StunListener {
    private static final Logger LOG = LoggerFactory.getLogger(StunListener.class);
    /** Buckets of the per-source limit; addresses sharing one share its rate. */
    static final int SOURCE_BUCKETS = 4096;

    private final Map<StunBinding.Outcome, LongAdder> outcomes = new EnumMap<>(StunBinding.Outcome.class);
    private final LongAdder rateLimited = new LongAdder();
    private final RelayMeters meters = RelayMeters.of(this);
    private TokenBucket[] perSource;
    private EventLoopGroup group;
    private Channel socket;

    public StunListener() {
        for (StunBinding.Outcome o : StunBinding.Outcome.values()) {
            outcomes.put(o, new LongAdder());
        }
    }

    @Activate
    void activate(ListenerConfig config) throws InterruptedException {
        if (config.stunPort() < 0) {
            LOG.info("no STUN responder (listeners.stunPort is {})", config.stunPort());
            return;
        }
        long now = System.nanoTime();
        perSource = new TokenBucket[SOURCE_BUCKETS];
        for (int i = 0; i < SOURCE_BUCKETS; i++) {
            perSource[i] = new TokenBucket(Math.max(1, config.stunAnswersPerSourcePerSecond()), 0, now);
        }
        boolean epoll = Epoll.isAvailable();
        group = new MultiThreadIoEventLoopGroup(1, epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
        io.netty.channel.ChannelFuture bound = new Bootstrap().group(group).channel(epoll ? EpollDatagramChannel.class : NioDatagramChannel.class)
                .handler(new Responder())
                .bind(new InetSocketAddress(config.address(), config.stunPort())).await();
        if (!bound.isSuccess()) {
            // Another STUN server may hold the port: the relay's other work does not depend on this one.
            LOG.warn("no STUN responder: cannot listen on UDP {}:{} ({})", config.address(), config.stunPort(), bound.cause().toString());
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            group = null;
            return;
        }
        socket = bound.channel();
        LOG.info("relay STUN responder on {} (UDP)", socket.localAddress());
    }

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY)
    void bindMeterRegistry(MeterRegistry registry) {
        meters.bind(registry);
    }

    void unbindMeterRegistry(MeterRegistry registry) {
        meters.unbind(registry);
    }

    @Deactivate
    void deactivate() {
        if (socket != null) {
            socket.close().syncUninterruptibly();
        }
        if (group != null) {
            group.shutdownGracefully(0, 2, TimeUnit.SECONDS);
        }
    }

    /** {@code relay:stun}: what the responder did since it started. */
    public String stun() {
        StringBuilder out = new StringBuilder("STUN responder on ").append(socket == null ? "-" : socket.localAddress()).append(':');
        outcomes.forEach((o, n) -> out.append(' ').append(o.name().toLowerCase(java.util.Locale.ROOT)).append('=').append(n.sum()));
        return out.append(" rate_limited=").append(rateLimited.sum()).append('\n').toString();
    }

    long outcome(StunBinding.Outcome outcome) {
        return outcomes.get(outcome).sum();
    }

    /** Answers withheld because their source was over its rate. */
    long rateLimited() {
        return rateLimited.sum();
    }

    /** The address the responder listens on, when it does. */
    InetSocketAddress localAddress() {
        return socket == null ? null : (InetSocketAddress) socket.localAddress();
    }

    /** A secret per start: which addresses share a bucket is not for a stranger to work out and aim at. */
    private final long bucketKey = new java.security.SecureRandom().nextLong();

    /** The bucket of a source address: a keyed mix of all its bytes (an address's own hash is its low bits). */
    int bucketOf(InetSocketAddress source) {
        long h = bucketKey;
        for (byte b : source.getAddress().getAddress()) {
            h = (h ^ (b & 0xFF)) * 0x9E3779B97F4A7C15L;
            h ^= h >>> 29;
        }
        return (int) Long.remainderUnsigned(h, SOURCE_BUCKETS);
    }

    @ChannelHandler.Sharable
    private final class Responder extends SimpleChannelInboundHandler<DatagramPacket> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, DatagramPacket packet) {
            InetSocketAddress source = packet.sender();
            StunBinding.Result r = StunBinding.answer(packet.content().nioBuffer(), source);
            if (r.answer() != null && !perSource[bucketOf(source)].take(0, System.nanoTime())) {
                rateLimited.increment(); // counted as this, not as what it would have been
                return;
            }
            outcomes.get(r.outcome()).increment();
            if (r.answer() != null) {
                ctx.writeAndFlush(new DatagramPacket(Unpooled.wrappedBuffer(r.answer()), source));
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            LOG.debug("STUN responder: {}", cause.toString()); // a datagram socket carries on after an error
        }
    }
}
