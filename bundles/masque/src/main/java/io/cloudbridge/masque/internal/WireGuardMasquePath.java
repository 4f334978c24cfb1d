package io.cloudbridge.masque.internal;

import io.cloudbridge.api.tunnel.DatagramTunnel;
import io.cloudbridge.api.tunnel.MasquePath;
import io.netty.buffer.Unpooled;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletionStage;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The MASQUE path for the node's WireGuard UDP: registers {@link MasquePath} while
 * masque.wireguardPath is on, so that hole punching, which takes it dynamically, sends through
 * the proxy only when the operator asked for it. Registered by hand rather than by SCR: whether
 * the service exists at all is the configuration's choice, and a changed configuration restarts
 * this component.
 */
@Component(service = {}, configurationPid = "cloudbridge.masque", immediate = true)
public final class WireGuardMasquePath implements MasquePath {
    private static final Logger LOG = LoggerFactory.getLogger(WireGuardMasquePath.class);

    private final UdpTunnels tunnels;
    private ServiceRegistration<MasquePath> registration;

    @Activate
    public WireGuardMasquePath(@Reference UdpTunnels tunnels, BundleContext context, MasqueConfig config) {
        this.tunnels = tunnels;
        if (config.wireguardPath()) {
            registration = context.registerService(MasquePath.class, this, null);
            LOG.info("the MASQUE path is on: WireGuard's UDP may go through the proxy at {}", tunnels.proxyName());
        }
    }

    @Deactivate
    void deactivate() {
        if (registration != null) {
            try {
                registration.unregister();
            } catch (IllegalStateException bundleStopping) {
                // gone with the bundle
            }
        }
    }

    @Override
    public CompletionStage<DatagramTunnel> open(InetSocketAddress target, DatagramTunnel.Receiver receiver) {
        String host = target.getAddress() == null ? target.getHostString() : target.getAddress().getHostAddress();
        return tunnels.openOwned(host, target.getPort(), payload -> receiver.received(payload.nioBuffer()), receiver::ended)
                .thenApply(owned -> new DatagramTunnel() {
                    @Override
                    public boolean send(ByteBuffer payload) {
                        return owned.send(Unpooled.copiedBuffer(payload.duplicate()));
                    }

                    @Override
                    public void close() {
                        owned.close();
                    }
                });
    }

    @Override
    public String proxy() {
        return tunnels.proxyName();
    }
}
