package io.cloudbridge.transport.quic.internal;

import io.cloudbridge.api.transport.PacketReceiver;
import io.cloudbridge.api.transport.PacketSession;
import io.cloudbridge.api.transport.RelayEndpoint;
import io.cloudbridge.api.transport.RelayTransport;
import io.cloudbridge.api.transport.SessionCredentials;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.handler.codec.quic.Quic;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Modified;
import org.osgi.service.metatype.annotations.Designate;

/**
 * The node's QUIC transport, tried first ({@link #priority()} 10): relays named
 * {@code quic://HOST:PORT}. Where QUIC's native code cannot load, it reaches no relay and the node
 * uses the next transport.
 */
@Component(service = RelayTransport.class, configurationPid = "cloudbridge.quic", immediate = true)
@Designate(ocd = QuicTransportConfig.class)
public final class QuicTransport implements RelayTransport {
    static final String NAME = "quic";

    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private final Set<QuicSession> sessions = ConcurrentHashMap.newKeySet();
    private volatile QuicTransportConfig config;

    @Activate
    public QuicTransport(QuicTransportConfig config) {
        this.config = config;
    }

    @Modified
    void modified(QuicTransportConfig c) {
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
        return "quic".equalsIgnoreCase(relay.uri().getScheme()) && relay.uri().getHost() != null && Quic.isAvailable();
    }

    @Override
    public CompletionStage<PacketSession> open(RelayEndpoint relay, SessionCredentials credentials, PacketReceiver receiver) {
        if (!supports(relay)) {
            return CompletableFuture.failedFuture(new IllegalArgumentException("not a quic:// relay, or no QUIC here: " + relay.uri()));
        }
        QuicSession session;
        try {
            session = new QuicSession(group, relay, credentials, receiver, config.minBackoffMillis(), config.maxBackoffMillis());
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
        sessions.add(session);
        session.whenEnded(() -> sessions.remove(session));
        return session.open();
    }

    /** Removing the plugin closes its sessions: the node moves its peers to another transport. */
    @Deactivate
    public void deactivate() {
        sessions.forEach(QuicSession::close);
        sessions.clear();
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS);
    }
}
