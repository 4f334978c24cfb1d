package io.cloudbridge.masque.internal;

import io.netty.channel.EventLoop;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.resolver.dns.DnsNameResolver;
import io.netty.resolver.dns.DnsNameResolverBuilder;
import io.netty.resolver.dns.DnsServerAddressStreamProvider;
import io.netty.resolver.dns.DnsServerAddressStreamProviders;
import io.netty.resolver.dns.NoopAuthoritativeDnsServerCache;
import io.netty.resolver.dns.NoopDnsCache;
import io.netty.resolver.dns.NoopDnsCnameCache;
import io.netty.resolver.dns.SequentialDnsServerAddressStreamProvider;
import io.netty.util.NetUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Resolves the targets of CONNECT-UDP requests without a thread per look-up: Netty's DNS resolver
 * on one event loop, its queries asynchronous, each look-up bounded by a deadline. With the JDK's
 * resolver each look-up held a thread for as long as the name server took (a silent one: the
 * system resolver's whole timeout and its retries), so a few requests for names under a server
 * that never answers took every thread the proxy had for its checks.
 *
 * <p>The name servers are masque.nameservers, or the system's ({@code /etc/resolv.conf}, its
 * search domains and {@code /etc/hosts} as the JDK read them). Nothing is cached: answers are only
 * used to open a tunnel, which lasts, and a cache filled by names a tenant chooses (with TTLs its
 * own server chooses) would be memory a tenant controls.
 */
final class TargetResolver implements AutoCloseable {

    /** The look-up ran past masque.resolveTimeoutMillis: the name server did not answer in time. */
    static final class ResolveTimeoutException extends UnknownHostException {
        private static final long serialVersionUID = 1L;

        ResolveTimeoutException(String message) {
            super(message);
        }
    }

    private final EventLoop loop;
    private final DnsNameResolver resolver;
    private final long timeoutMillis;

    /**
     * @param nameservers each an address literal, with or without a port ({@code 192.0.2.53},
     *        {@code 192.0.2.53:5353}, {@code [2001:db8::53]:53}); empty: the system's
     */
    TargetResolver(EventLoop loop, List<String> nameservers, long timeoutMillis) {
        this.loop = loop;
        this.timeoutMillis = timeoutMillis;
        DnsServerAddressStreamProvider servers = nameservers.isEmpty() ? DnsServerAddressStreamProviders.platformDefault()
                : new SequentialDnsServerAddressStreamProvider(parse(nameservers));
        this.resolver = new DnsNameResolverBuilder(loop)
                .datagramChannelType(NioDatagramChannel.class)
                .socketChannelType(NioSocketChannel.class) // a truncated answer is asked again over TCP
                .nameServerProvider(servers)
                // One query may take the whole deadline; the deadline below ends the look-up either way.
                .queryTimeoutMillis(timeoutMillis)
                .resolveCache(NoopDnsCache.INSTANCE)
                .cnameCache(NoopDnsCnameCache.INSTANCE)
                .authoritativeDnsServerCache(NoopAuthoritativeDnsServerCache.INSTANCE)
                .build();
    }

    /** Address literals with an optional port (53 when none), as masque.nameservers lists them; never a look-up. */
    static List<InetSocketAddress> parse(List<String> nameservers) {
        List<InetSocketAddress> out = new ArrayList<>();
        for (String s : nameservers) {
            String host = s.trim();
            int port = 53;
            if (host.startsWith("[")) {
                int close = host.indexOf(']');
                if (close < 0) {
                    throw new IllegalArgumentException("masque.nameservers: '" + s + "' has no closing ']'");
                }
                if (close + 1 < host.length()) {
                    port = port(s, host.substring(close + 1));
                }
                host = host.substring(1, close);
            } else if (host.indexOf(':') == host.lastIndexOf(':') && host.indexOf(':') >= 0) {
                port = port(s, host.substring(host.indexOf(':')));
                host = host.substring(0, host.indexOf(':'));
            }
            byte[] address = NetUtil.createByteArrayFromIpAddressString(host);
            if (address == null) {
                throw new IllegalArgumentException("masque.nameservers: '" + s + "' is not an address (and a name server's name would need one)");
            }
            try {
                out.add(new InetSocketAddress(InetAddress.getByAddress(address), port));
            } catch (UnknownHostException e) {
                throw new IllegalArgumentException("masque.nameservers: '" + s + "'", e);
            }
        }
        return out;
    }

    private static int port(String entry, String colonPort) {
        try {
            int port = colonPort.startsWith(":") ? Integer.parseInt(colonPort.substring(1)) : -1;
            if (port >= 1 && port <= 65_535) {
                return port;
            }
        } catch (NumberFormatException e) {
            // below
        }
        throw new IllegalArgumentException("masque.nameservers: '" + entry + "' has no valid port");
    }

    /**
     * The addresses of {@code host}: at once for an address literal; else the name servers'
     * answer, or within masque.resolveTimeoutMillis a {@link ResolveTimeoutException}, or an
     * {@link UnknownHostException} for a name that does not resolve. Completes on the resolver's
     * event loop: whoever listens hands its work on.
     */
    Future<List<InetAddress>> resolve(String host) {
        Promise<List<InetAddress>> done = loop.newPromise();
        byte[] literal = NetUtil.createByteArrayFromIpAddressString(host);
        if (literal != null) {
            try {
                return done.setSuccess(List.of(InetAddress.getByAddress(literal)));
            } catch (UnknownHostException e) {
                return done.setFailure(e);
            }
        }
        Promise<List<InetAddress>> lookUp = loop.newPromise();
        ScheduledFuture<?> deadline = loop.schedule(() -> {
            // Cancelled, the look-up sends no more queries; those out already end at their own timeout.
            lookUp.cancel(false);
            done.tryFailure(new ResolveTimeoutException("no answer for " + host + " within " + timeoutMillis + " ms"));
        }, timeoutMillis, TimeUnit.MILLISECONDS);
        lookUp.addListener(f -> {
            deadline.cancel(false);
            if (f.isCancelled()) {
                return;
            }
            if (f.isSuccess()) {
                @SuppressWarnings("unchecked")
                List<InetAddress> found = (List<InetAddress>) f.getNow();
                done.trySuccess(found);
            } else if (timedOut(f.cause())) {
                done.tryFailure(new ResolveTimeoutException("no answer for " + host + " within " + timeoutMillis + " ms"));
            } else {
                UnknownHostException unknown = new UnknownHostException(host + ": " + f.cause().getMessage());
                unknown.initCause(f.cause());
                done.tryFailure(unknown);
            }
        });
        loop.execute(() -> resolver.resolveAll(host, lookUp));
        return done;
    }

    /** Whether the resolver gave up for want of an answer (its failure wraps the query's timeout). */
    private static boolean timedOut(Throwable cause) {
        for (Throwable t = cause; t != null; t = t.getCause()) {
            if (t instanceof io.netty.resolver.dns.DnsNameResolverTimeoutException) {
                return true;
            }
        }
        return false;
    }

    @Override
    public void close() {
        resolver.close();
    }
}
