package io.cloudbridge.transport.websocket.internal;

import io.cloudbridge.api.transport.PacketReceiver;
import io.cloudbridge.api.transport.PacketSession;
import io.cloudbridge.api.transport.RelayEndpoint;
import io.cloudbridge.api.transport.RelayTransport;
import io.cloudbridge.api.transport.SessionCredentials;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLException;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Modified;
import org.osgi.service.metatype.annotations.Designate;

/**
 * The node's WebSocket transport: its relay sessions over TLS on TCP, for networks that let no
 * UDP out. Tried after QUIC ({@link #priority()} 20 against QUIC's 10). Relays are named
 * {@code wss://HOST:PORT}; the path defaults to the relay's {@value Frames#PATH}. Where the
 * environment names an HTTP proxy ({@code HTTPS_PROXY}, {@code NO_PROXY}) sessions tunnel through it
 * with HTTP CONNECT.
 */
@Component(service = RelayTransport.class, configurationPid = "cloudbridge.websocket", immediate = true)
@Designate(ocd = WebSocketTransportConfig.class)
public final class WebSocketTransport implements RelayTransport {
    static final String NAME = "websocket";

    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private final java.util.Set<WebSocketSession> sessions = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private volatile WebSocketTransportConfig config;

    @Activate
    public WebSocketTransport(WebSocketTransportConfig config) {
        this.config = config;
    }

    @Modified
    void modified(WebSocketTransportConfig c) {
        this.config = c;
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public int priority() {
        return config.priority();
    }

    @Override
    public boolean supports(RelayEndpoint relay) {
        return "wss".equalsIgnoreCase(relay.uri().getScheme()) && relay.uri().getHost() != null;
    }

    @Override
    public CompletionStage<PacketSession> open(RelayEndpoint relay, SessionCredentials credentials, PacketReceiver receiver) {
        if (!supports(relay)) {
            return CompletableFuture.failedFuture(new IllegalArgumentException("not a wss:// relay: " + relay.uri()));
        }
        WebSocketSession session;
        try {
            session = new WebSocketSession(group, relay, credentials, receiver, config.minBackoffMillis(), config.maxBackoffMillis(),
                    System.getenv());
        } catch (SSLException | IllegalArgumentException e) {
            return CompletableFuture.failedFuture(e);
        }
        sessions.add(session);
        session.whenEnded(() -> sessions.remove(session));
        return session.open();
    }

    /** Removing the plugin closes its sessions: the node moves its peers to another transport. */
    @Deactivate
    public void deactivate() {
        sessions.forEach(WebSocketSession::close);
        sessions.clear();
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS);
    }
}
