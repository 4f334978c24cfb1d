package io.cloudbridge.transport.quic.internal;

import io.cloudbridge.api.transport.PacketReceiver;
import io.cloudbridge.api.transport.RelayEndpoint;
import io.cloudbridge.api.transport.SessionCredentials;
import io.cloudbridge.transport.support.RelaySession;
import io.cloudbridge.transport.support.SessionTransport;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.handler.codec.quic.Quic;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Modified;
import org.osgi.service.metatype.annotations.Designate;

/**
 * The node's QUIC transport, tried first ({@link #priority()} 10): relays named
 * {@code quic://HOST:PORT}. Where QUIC's native code cannot load, the bundle does not start
 * ({@link QuicBundleLifecycle}) and the node uses the next transport.
 */
@Component(service = io.cloudbridge.api.transport.RelayTransport.class, configurationPid = "cloudbridge.quic", immediate = true)
@Designate(ocd = QuicTransportConfig.class)
public final class QuicTransport extends SessionTransport {
    static final String NAME = "quic";

    private volatile QuicTransportConfig config;

    @Activate
    public QuicTransport(QuicTransportConfig config) {
        // epoll where it runs: its sockets can be told not to fragment, which path MTU discovery needs.
        super(PathMtu.canProbe() ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
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
    protected RelaySession newSession(RelayEndpoint relay, SessionCredentials credentials, PacketReceiver receiver) {
        return new QuicSession(group, relay, credentials, receiver, config.minBackoffMillis(), config.maxBackoffMillis(),
                config.pingMillis(), Math.max(config.deadAfterMillis(), 2 * config.pingMillis()));
    }

    /** Removing the plugin closes its sessions: the node moves its peers to another transport. */
    @Deactivate
    public void deactivate() {
        close();
    }
}
