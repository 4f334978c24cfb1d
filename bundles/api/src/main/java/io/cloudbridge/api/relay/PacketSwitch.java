package io.cloudbridge.api.relay;

import io.cloudbridge.api.net.NodeKey;
import org.osgi.annotation.versioning.ProviderType;

/**
 * The relay's forwarding core. Each connected transport session is a port; a packet a node sends
 * to a key goes out of that key's port in the same tenant, or is dropped and counted. Nothing is
 * queued here: a port's sink takes a packet at once or drops it.
 */
@ProviderType
public interface PacketSwitch {

    /**
     * Attaches an authenticated session. A node has one port: a newer session of the same node
     * (a reconnect, a move to another transport) takes over: the older one forwards nothing from
     * then on, and is told so through its sink's {@link PortSink#closed} shortly after.
     *
     * @param transport the transport's name, for counters and {@code relay:sessions}
     */
    SwitchPort attach(AuthenticatedNode node, String transport, PortSink sink);

    /**
     * Closes the node's port, if it has one (the node was removed or revoked); returns whether it
     * had one.
     */
    boolean disconnect(String tenant, NodeKey node, String reason);
}
