package io.cloudbridge.transport.websocket.internal;

import io.cloudbridge.api.transport.PacketReceiver;
import io.cloudbridge.api.transport.RelayEndpoint;
import io.cloudbridge.api.transport.SessionCredentials;
import io.cloudbridge.transport.support.RelaySession;
import io.cloudbridge.transport.support.SessionTransport;
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
@Component(service = io.cloudbridge.api.transport.RelayTransport.class, configurationPid = "cloudbridge.websocket", immediate = true)
@Designate(ocd = WebSocketTransportConfig.class)
public final class WebSocketTransport extends SessionTransport {
    static final String NAME = "websocket";

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
    protected RelaySession newSession(RelayEndpoint relay, SessionCredentials credentials, PacketReceiver receiver) throws SSLException {
        return new WebSocketSession(group, relay, credentials, receiver, config.minBackoffMillis(), config.maxBackoffMillis(),
                config.pingMillis(), Math.max(config.deadAfterMillis(), 2 * config.pingMillis()), System.getenv());
    }

    /** Removing the plugin closes its sessions: the node moves its peers to another transport. */
    @Deactivate
    public void deactivate() {
        close();
    }
}
