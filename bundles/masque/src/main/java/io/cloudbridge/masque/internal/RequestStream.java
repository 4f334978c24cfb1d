package io.cloudbridge.masque.internal;

import io.cloudbridge.api.auth.CredentialRejectedException;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http3.DefaultHttp3DataFrame;
import io.netty.handler.codec.http3.DefaultHttp3HeadersFrame;
import io.netty.handler.codec.http3.Http3DataFrame;
import io.netty.handler.codec.http3.Http3Headers;
import io.netty.handler.codec.http3.Http3HeadersFrame;
import io.netty.handler.codec.http3.Http3RequestStreamInboundHandler;
import io.netty.handler.codec.http3.Http3UnknownFrame;
import io.netty.handler.codec.quic.QuicStreamChannel;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.RejectedExecutionException;

/**
 * One HTTP/3 request stream on the proxy: an extended CONNECT for {@code connect-udp} is checked
 * (method, protocol, template, {@code capsule-protocol: ?1}, bearer token, target policy) and
 * becomes a {@link UdpTunnel}; anything else gets its HTTP status and the stream ends. Then the
 * stream's DATA frames are capsules: DATAGRAM capsules go to the target, unknown capsules are
 * skipped, malformed ones abort the stream.
 */
final class RequestStream extends Http3RequestStreamInboundHandler {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(RequestStream.class);
    /** H3_MESSAGE_ERROR (RFC 9114 section 8.1): a malformed request or capsule stream. */
    static final int H3_MESSAGE_ERROR = 0x10e;
    /** H3_NO_ERROR. */
    static final int H3_NO_ERROR = 0x100;

    private final MasqueProxy proxy;
    private final MasqueProxy.Connection connection;
    private Capsules.Parser capsules;
    private boolean headersSeen;
    /** Set once the request was accepted and its tunnel (a UDP socket, or a CONNECT-IP session) is up. */
    private StreamTunnel tunnel;
    private boolean ended;
    private boolean responded;
    /** The request's bearer token bound to the relay's revocation signal, once checked (on the checks thread); closed when the stream ends. */
    private volatile io.cloudbridge.api.relay.CredentialRevocations.Binding binding;
    /** H3_REQUEST_CANCELLED (RFC 9114 section 8.1): the proxy ends a tunnel whose credential was revoked. */
    static final int H3_REQUEST_CANCELLED = 0x10c;

    RequestStream(MasqueProxy proxy, MasqueProxy.Connection connection) {
        this.proxy = proxy;
        this.connection = connection;
    }

    @Override
    protected void channelRead(ChannelHandlerContext ctx, Http3HeadersFrame frame) {
        if (headersSeen) {
            return; // trailers: nothing in them matters to a tunnel
        }
        headersSeen = true;
        Http3Headers h = frame.headers();
        QuicStreamChannel stream = (QuicStreamChannel) ctx.channel();
        String method = str(h.method());
        String protocol = str(h.protocol());
        String path = str(h.path());
        if (!"CONNECT".equals(method)) {
            Optional<Map<String, String>> target = path == null ? Optional.empty() : safeMatch(path);
            respond(ctx, target.isPresent() ? 405 : 404, target.isPresent()
                    ? "this resource takes extended CONNECT (connect-udp or connect-ip) only" : "no such resource");
            return;
        }
        if (protocol == null) {
            respond(ctx, 400, "a CONNECT without :protocol: this proxy serves extended CONNECT (connect-udp, connect-ip), not TCP tunnels");
            return;
        }
        if (!"connect-udp".equals(protocol) && !"connect-ip".equals(protocol)) {
            respond(ctx, 501, "protocol '" + protocol + "' is not served here (connect-udp and connect-ip are)");
            return;
        }
        if (path == null || !"https".equals(str(h.scheme())) || h.authority() == null) {
            respond(ctx, 400, "extended CONNECT needs :scheme https, :authority and :path");
            return;
        }
        if ("connect-ip".equals(protocol)) {
            connectIp(ctx, stream, h, path);
            return;
        }
        Map<String, String> values = matched(ctx, h, proxy.udpTemplate, path, "CONNECT-UDP", "RFC 9298 section 3.4");
        if (values == null) {
            return;
        }
        String host = values.get("target_host");
        int port;
        try {
            port = Integer.parseInt(values.get("target_port"));
        } catch (NumberFormatException e) {
            port = -1;
        }
        if (port < 1 || port > 65_535 || !validHost(host)) {
            respond(ctx, 400, "malformed target: '" + host + "' port '" + values.get("target_port") + "'");
            return;
        }
        String bearer = bearer(ctx, h);
        if (bearer == null) {
            return;
        }
        int targetPort = port;
        capsules = new Capsules.Parser(ctx.alloc(), proxy.config.maxPayload() + 8);
        try {
            proxy.checks.execute(connection, () -> check(stream, bearer, host, targetPort));
        } catch (RejectedExecutionException e) {
            respond(ctx, 503, "the proxy is busy checking other requests (" + e.getMessage() + "); try again");
        }
    }

    /**
     * CONNECT-IP (RFC 9484): the template's {@code target} is {@code *} (the whole tenant) or an
     * address or prefix inside the tenant's overlay; {@code ipproto} is {@code *} or 0 to 255.
     */
    private void connectIp(ChannelHandlerContext ctx, QuicStreamChannel stream, Http3Headers h, String path) {
        Map<String, String> values = matched(ctx, h, proxy.ipTemplate, path, "CONNECT-IP", "RFC 9484 section 4");
        if (values == null) {
            return;
        }
        String target = values.getOrDefault("target", "*");
        String proto = values.getOrDefault("ipproto", "*");
        io.cloudbridge.api.net.IpPrefix targetPrefix = null;
        int ipProtocol = -1;
        try {
            if (!"*".equals(target)) {
                targetPrefix = io.cloudbridge.api.net.IpPrefix.parse(target); // a bare literal is a host prefix; never a look-up
            }
            if (!"*".equals(proto)) {
                ipProtocol = Integer.parseInt(proto);
                if (ipProtocol < 0 || ipProtocol > 255) {
                    throw new IllegalArgumentException("ipproto " + proto);
                }
            }
        } catch (IllegalArgumentException e) {
            respond(ctx, 400, "malformed CONNECT-IP target '" + target + "' or ipproto '" + proto + "' (an address, a prefix or *; "
                    + "0 to 255 or *)");
            return;
        }
        String bearer = bearer(ctx, h);
        if (bearer == null) {
            return;
        }
        TenantGateways gateways = proxy.gateways;
        if (gateways == null) {
            respond(ctx, 501, "CONNECT-IP needs the relay's control and data planes, which do not run here");
            return;
        }
        io.cloudbridge.api.net.IpPrefix asked = targetPrefix;
        int protocol = ipProtocol;
        capsules = new Capsules.Parser(ctx.alloc(), Math.max(proxy.config.maxPayload(), 1500) + 8);
        try {
            proxy.checks.execute(connection, () -> checkIp(stream, gateways, bearer, asked, protocol));
        } catch (RejectedExecutionException e) {
            respond(ctx, 503, "the proxy is busy checking other requests (" + e.getMessage() + "); try again");
        }
    }

    /**
     * The template's values for this request's path, or null once the request was answered: 404
     * when the path is not the template's, 400 for a malformed value or without
     * {@code capsule-protocol: ?1} (checked in that order, as a client can fix them).
     */
    private Map<String, String> matched(ChannelHandlerContext ctx, Http3Headers h, UriTemplate template, String path, String what,
            String rfc) {
        Map<String, String> values;
        try {
            Optional<Map<String, String>> matched = template.match(path);
            if (matched.isEmpty()) {
                respond(ctx, 404, "no " + what + " resource at " + path + " (the template is " + template + ")");
                return null;
            }
            values = matched.get();
        } catch (IllegalArgumentException e) {
            respond(ctx, 400, "malformed target in the path: " + e.getMessage());
            return null;
        }
        if (!capsuleProtocol(str(h.get("capsule-protocol")))) {
            respond(ctx, 400, what + " needs the header capsule-protocol: ?1 (" + rfc + ")");
            return null;
        }
        return values;
    }

    /** The request's bearer token, or null once it was answered 401. */
    private String bearer(ChannelHandlerContext ctx, Http3Headers h) {
        String authorization = str(h.get("authorization"));
        if (authorization == null || !authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
            respond(ctx, 401, "a bearer token is required (Authorization: Bearer, a node token or an access token)");
            return null;
        }
        return authorization.substring(7).trim();
    }

    /**
     * Who the bearer token names, or null once the request was answered (401, or 500 when it could
     * not be checked). The token is bound to the relay's revocation signal before anything is set
     * up for it: whenever it is revoked or expires from then on, this request ends, whether its
     * tunnel is up yet or not. Blocks.
     */
    private MasqueProxy.Client client(QuicStreamChannel stream, String bearer) {
        try {
            MasqueProxy.Client client = proxy.authenticate(bearer);
            binding = proxy.revocations.bind(bearer, reason -> stream.eventLoop().execute(() -> revoked(stream, client, reason)));
            if (!stream.isActive()) {
                binding.close(); // the stream went while the token was checked: nothing will close it later
            }
            return client;
        } catch (CredentialRejectedException e) {
            MasqueProxy.SECURITY.info("MASQUE request from {} refused: {}", connection.channel.remoteSocketAddress(), e.getMessage());
            stream.eventLoop().execute(() -> respond(stream, 401, "the bearer token was refused: " + e.getMessage()));
        } catch (io.cloudbridge.api.relay.CredentialCheckUnavailableException e) {
            // The token may well be good: come back later (RFC 9209's proxy_internal_error, with a wait).
            stream.eventLoop().execute(() -> respond(stream, 503, "the token cannot be checked now; try again",
                    new Admission.Refusal(503, e.getMessage(), "proxy_internal_error", 2)));
        } catch (RuntimeException e) {
            stream.eventLoop().execute(() -> respond(stream, 500, "the token could not be checked"));
        }
        return null;
    }

    /** Off the event loop: who asks, whether the target is inside their tenant, their addresses; then the 200. */
    private void checkIp(QuicStreamChannel stream, TenantGateways gateways, String bearer, io.cloudbridge.api.net.IpPrefix asked,
            int ipProtocol) {
        MasqueProxy.Client client = client(stream, bearer);
        if (client == null) {
            return;
        }
        IpSession session;
        try {
            // The scope is checked before the gateway is made: a refused request leaves nothing behind.
            List<io.cloudbridge.api.net.IpPrefix> tenant = gateways.prefixes(client.tenant());
            List<io.cloudbridge.api.net.IpPrefix> scope;
            if (asked == null) {
                scope = null; // the whole tenant, known for sure once its gateway holds an address
            } else if (tenant.stream().anyMatch(p -> p.length() <= asked.length() && p.contains(asked.address()))) {
                scope = List.of(asked);
            } else {
                MasqueProxy.SECURITY.info("CONNECT-IP to {} refused to {} of tenant {}: outside its overlay", asked, client.id(),
                        client.tenant());
                stream.eventLoop().execute(() -> respond(stream, 403, "target refused: " + asked + " is outside tenant "
                        + client.tenant() + "'s overlay " + tenant));
                return;
            }
            Admission.Slot slot;
            try {
                slot = proxy.admission.take(Admission.Kind.IP_SESSION, client);
            } catch (Admission.Refused e) {
                refuse(stream, client, e.refusal);
                return;
            }
            try {
                TenantGateways.Gateway gateway = gateways.gateway(client.tenant());
                session = new IpSession(proxy, connection, stream, client, slot, gateway, scope == null ? gateway.prefixes() : scope,
                        ipProtocol);
                session.lease = gateway.admit(session);
            } catch (io.cloudbridge.api.ipam.AddressPoolExhaustedException | java.io.IOException | RuntimeException e) {
                slot.close();
                throw e;
            }
        } catch (io.cloudbridge.api.ipam.AddressPoolExhaustedException e) {
            stream.eventLoop().execute(() -> respond(stream, 503, "tenant " + client.tenant() + " has no overlay address left"));
            return;
        } catch (java.io.IOException | RuntimeException e) {
            LOG.warn("the CONNECT-IP gateway of tenant {} could not be made: {}", client.tenant(), e.toString(), e);
            stream.eventLoop().execute(() -> respond(stream, 502, "the tenant's gateway is not available: " + e.getMessage()));
            return;
        }
        stream.eventLoop().execute(() -> {
            if (ended || !stream.isActive()) {
                session.close();
                return;
            }
            tunnel = session;
            responded = true;
            DefaultHttp3HeadersFrame ok = new DefaultHttp3HeadersFrame();
            ok.headers().status("200").set("capsule-protocol", "?1");
            stream.writeAndFlush(ok);
            session.started();
            LOG.debug("CONNECT-IP for {} of tenant {}: {} and {}", client.id(), client.tenant(), session.lease.ipv4().getHostAddress(),
                    session.lease.ipv6().getHostAddress());
        });
    }

    /**
     * Off the event loop: who asks; then its tunnel slot (before anything is spent on the request:
     * a tenant at its limits costs the proxy no look-up), then the target's name resolved without
     * holding a thread, within masque.resolveTimeoutMillis and the tenant's look-ups in flight;
     * then whether the target may be reached; then back on the stream's loop to open the tunnel.
     */
    private void check(QuicStreamChannel stream, String bearer, String host, int port) {
        MasqueProxy.Client client = client(stream, bearer);
        if (client == null) {
            return;
        }
        Admission.Slot slot;
        try {
            slot = proxy.admission.take(Admission.Kind.UDP_TUNNEL, client);
        } catch (Admission.Refused e) {
            refuse(stream, client, e.refusal);
            return;
        }
        Admission.Slot lookUp = null;
        if (io.netty.util.NetUtil.createByteArrayFromIpAddressString(host) == null) {
            try {
                lookUp = proxy.admission.take(Admission.Kind.RESOLUTION, client);
            } catch (Admission.Refused e) {
                slot.close();
                refuse(stream, client, e.refusal);
                return;
            }
        }
        Admission.Slot resolving = lookUp;
        proxy.resolver.resolve(host).addListener(f -> {
            if (resolving != null) {
                resolving.close();
            }
            if (!f.isSuccess()) {
                slot.close();
                if (f.cause() instanceof TargetResolver.ResolveTimeoutException) {
                    refuse(stream, client, new Admission.Refusal(504, "the target's name did not resolve in time: " + host
                            + " (masque.resolveTimeoutMillis)", "dns_timeout", 0));
                } else {
                    refuse(stream, client, new Admission.Refusal(502, "the target's name does not resolve: " + host, "dns_error", 0));
                }
                return;
            }
            @SuppressWarnings("unchecked")
            List<InetAddress> addresses = (List<InetAddress>) f.getNow();
            InetAddress chosen = null;
            String refusal = null;
            for (InetAddress a : addresses) {
                String why = proxy.policy.refusal(client.tenant(), a);
                if (why == null) {
                    chosen = a;
                    break;
                }
                refusal = refusal == null ? a.getHostAddress() + ": " + why : refusal;
            }
            if (chosen == null) {
                slot.close();
                String why = refusal;
                MasqueProxy.SECURITY.info("MASQUE tunnel to {}:{} refused to {} of tenant {}: {}", host, port, client.id(), client.tenant(),
                        why);
                stream.eventLoop().execute(() -> respond(stream, 403, "target refused: " + why));
                return;
            }
            InetSocketAddress target = new InetSocketAddress(chosen, port);
            stream.eventLoop().execute(() -> open(stream, client, slot, host + ":" + port, target));
        });
    }

    /** A slot refused, or a look-up that failed: the status, its reason, and the RFC 9209 Proxy-Status. From any thread. */
    private void refuse(QuicStreamChannel stream, MasqueProxy.Client client, Admission.Refusal r) {
        // Debug, not info: a tenant flooding its limits would otherwise flood the log; masque:tunnels counts them by status.
        LOG.debug("MASQUE request of {} of tenant {} refused: {}", client.id(), client.tenant(), r.reason());
        stream.eventLoop().execute(() -> respond(stream, r.status(), r.reason(), r));
    }

    private void open(QuicStreamChannel stream, MasqueProxy.Client client, Admission.Slot slot, String asked, InetSocketAddress target) {
        if (ended || !stream.isActive()) {
            slot.close();
            return;
        }
        UdpTunnel.open(proxy, connection, stream, client, slot, asked, target).addListener(f -> stream.eventLoop().execute(() -> {
            if (!f.isSuccess()) {
                slot.close();
                respond(stream, 502, "no socket toward the target: " + f.cause());
                return;
            }
            @SuppressWarnings("unchecked")
            UdpTunnel opened = ((io.netty.util.concurrent.Future<UdpTunnel>) f).getNow();
            if (ended || !stream.isActive()) {
                opened.close();
                return;
            }
            tunnel = opened;
            responded = true;
            DefaultHttp3HeadersFrame ok = new DefaultHttp3HeadersFrame();
            ok.headers().status("200").set("capsule-protocol", "?1");
            stream.writeAndFlush(ok);
            LOG.debug("CONNECT-UDP {} -> {} for {} of tenant {}", asked, target, client.id(), client.tenant());
        }));
    }

    @Override
    protected void channelRead(ChannelHandlerContext ctx, Http3DataFrame frame) {
        ByteBuf content = frame.content();
        if (capsules == null || ended) {
            content.release(); // data on a stream that is not (or no longer) a tunnel: nothing to do with it
            return;
        }
        List<Capsules.Capsule> got;
        try {
            got = capsules.feed(content);
        } catch (Capsules.MalformedCapsuleException e) {
            abort(ctx, e.getMessage());
            return;
        }
        for (Capsules.Capsule c : got) {
            try {
                if (c.type() != Capsules.DATAGRAM) {
                    String problem = tunnel == null ? null : tunnel.capsule(c.type(), c.value());
                    if (problem != null) {
                        abort(ctx, problem);
                        return;
                    }
                    continue;
                }
                HttpDatagrams.Datagram d = HttpDatagrams.parseCapsuleValue(0, c.value());
                int limit = tunnel == null ? proxy.config.maxPayload() : tunnel.maxPayload();
                if (d == null || d.contextId() != HttpDatagrams.PAYLOAD_CONTEXT) {
                    proxy.drops.count(DatagramDrops.Reason.UNKNOWN_CONTEXT);
                } else if (d.payload().readableBytes() > limit) {
                    abort(ctx, "a DATAGRAM capsule of " + d.payload().readableBytes() + " bytes (the limit is " + limit + ")");
                    return;
                } else if (tunnel != null) {
                    tunnel.fromClient(d.payload(), false);
                } else {
                    proxy.drops.count(DatagramDrops.Reason.NO_TUNNEL); // sent before the proxy answered: UDP may lose it
                }
            } finally {
                c.value().release();
            }
        }
    }

    @Override
    protected void channelRead(ChannelHandlerContext ctx, Http3UnknownFrame frame) {
        frame.release(); // unknown frame types are ignored (RFC 9114 section 9)
    }

    @Override
    protected void channelInputClosed(ChannelHandlerContext ctx) {
        if (capsules != null && !ended) {
            try {
                capsules.finish();
            } catch (Capsules.MalformedCapsuleException e) {
                abort(ctx, e.getMessage());
                return;
            }
        }
        // The client closed its side: the tunnel is over; close ours too.
        end();
        ((QuicStreamChannel) ctx.channel()).shutdownOutput();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        end();
        if (capsules != null) {
            capsules.release();
        }
        super.channelInactive(ctx);
    }

    private void end() {
        ended = true;
        StreamTunnel t = tunnel;
        tunnel = null;
        if (t != null) {
            t.close();
        }
        io.cloudbridge.api.relay.CredentialRevocations.Binding b = binding;
        if (b != null) {
            b.close();
        }
    }

    /**
     * On the stream's loop: the request's credential was revoked or expired. A tunnel that is up
     * ends now and the stream is reset (the client sees H3_REQUEST_CANCELLED, not a clean end); a
     * request still being set up is answered 401 instead of 200 (its setup sees {@code ended}).
     */
    private void revoked(QuicStreamChannel stream, MasqueProxy.Client client, String reason) {
        if (ended && tunnel == null) {
            return; // answered or over already
        }
        MasqueProxy.SECURITY.info("MASQUE request of {} of tenant {} ended: {}", client.id(), client.tenant(), reason);
        boolean up = tunnel != null;
        end();
        if (!stream.isActive()) {
            return;
        }
        if (!up) {
            respond(stream, 401, "the bearer token was revoked: " + reason);
            return;
        }
        stream.shutdownOutput(H3_REQUEST_CANCELLED);
        stream.shutdownInput(H3_REQUEST_CANCELLED);
        stream.close();
    }

    private void abort(ChannelHandlerContext ctx, String why) {
        MasqueProxy.SECURITY.info("MASQUE stream from {} aborted: {}", connection.channel.remoteSocketAddress(), why);
        end();
        QuicStreamChannel stream = (QuicStreamChannel) ctx.channel();
        stream.shutdownInput(H3_MESSAGE_ERROR);
        stream.shutdownOutput(H3_MESSAGE_ERROR);
        stream.close();
    }

    private void respond(ChannelHandlerContext ctx, int status, String reason) {
        respond((QuicStreamChannel) ctx.channel(), status, reason);
    }

    /** Answers with {@code status} and the reason as a short text body, then ends the stream. */
    private void respond(QuicStreamChannel stream, int status, String reason) {
        respond(stream, status, reason, null);
    }

    /**
     * As {@link #respond(QuicStreamChannel, int, String)}; a refusal also says what the proxy ran
     * out of (Proxy-Status, RFC 9209) and when to come back (Retry-After).
     */
    private void respond(QuicStreamChannel stream, int status, String reason, Admission.Refusal refusal) {
        ended = true;
        if (responded) {
            return; // a revocation answered while the checks still ran: one response only
        }
        responded = true;
        proxy.refused(status);
        DefaultHttp3HeadersFrame headers = new DefaultHttp3HeadersFrame();
        headers.headers().status(Integer.toString(status)).set("content-type", "text/plain; charset=utf-8");
        if (status == 401) {
            headers.headers().set("www-authenticate", "Bearer");
        }
        if (refusal != null) {
            headers.headers().set("proxy-status", "cloudbridge; error=" + refusal.proxyError());
            if (refusal.retryAfterSeconds() > 0) {
                headers.headers().set("retry-after", Integer.toString(refusal.retryAfterSeconds()));
            }
        }
        stream.write(headers);
        stream.writeAndFlush(new DefaultHttp3DataFrame(Unpooled.copiedBuffer(reason + "\n", StandardCharsets.UTF_8)))
                .addListener(f -> finish(stream));
    }

    /**
     * Ends both directions of a request stream the proxy is done with: FIN on its side, and
     * STOP_SENDING with H3_NO_ERROR on the client's (RFC 9114 section 4.1: a server that answered
     * need not read the rest), so the stream does not hold one of the connection's stream credits.
     */
    static void finish(QuicStreamChannel stream) {
        stream.shutdownOutput();
        stream.shutdownInput(H3_NO_ERROR);
    }

    private Optional<Map<String, String>> safeMatch(String path) {
        try {
            Optional<Map<String, String>> udp = proxy.udpTemplate.match(path);
            return udp.isPresent() ? udp : proxy.ipTemplate.match(path);
        } catch (IllegalArgumentException e) {
            return Optional.of(Map.of());
        }
    }

    /** RFC 9297 section 3.4: a Structured Field boolean, true, parameters allowed. */
    static boolean capsuleProtocol(String value) {
        if (value == null) {
            return false;
        }
        String v = value.trim();
        return v.equals("?1") || v.startsWith("?1;");
    }

    /** A DNS name or an address literal (IPv6 without brackets, as the template carries it). */
    static boolean validHost(String host) {
        if (host == null || host.isEmpty() || host.length() > 253) {
            return false;
        }
        if (host.indexOf(':') >= 0) {
            return host.matches("[0-9A-Fa-f:.]+"); // an IPv6 literal; InetAddress parses it without a look-up
        }
        return host.matches("[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\\.?");
    }

    private static String str(CharSequence s) {
        return s == null ? null : s.toString();
    }
}
