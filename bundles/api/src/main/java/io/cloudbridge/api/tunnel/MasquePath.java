package io.cloudbridge.api.tunnel;

import java.net.InetSocketAddress;
import java.util.concurrent.CompletionStage;
import org.osgi.annotation.versioning.ProviderType;

/**
 * The MASQUE path for the node's own WireGuard UDP: CONNECT-UDP tunnels through a proxy, for
 * networks where only HTTPS to that proxy gets out. Registered only while the operator asked
 * for it ({@code up --masque-proxy URL}); hole punching uses it as one more local base.
 */
@ProviderType
public interface MasquePath {

    /**
     * Opens a tunnel to {@code target}: completes once the proxy accepted it, exceptionally when
     * the proxy refused it or could not be reached. Never blocks the caller.
     */
    CompletionStage<DatagramTunnel> open(InetSocketAddress target, DatagramTunnel.Receiver receiver);

    /** The proxy in words (its authority), for cb:peers. */
    String proxy();
}
