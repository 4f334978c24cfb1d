package io.cloudbridge.control.relay.internal;

import io.cloudbridge.api.ipam.AddressAllocator;
import io.cloudbridge.api.net.NodeKey;
import java.sql.SQLException;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An administrator's removal of a node (relay:node delete): the node's record, addresses and map
 * entry go, and everything its credential opened is revoked.
 */
final class NodeRemoval {
    /** Logs under the control service's name, as before the split: operators' log levels name it. */
    private static final Logger LOG = LoggerFactory.getLogger(ControlService.class);
    private final RelayState state;
    private final AddressAllocator ipam;
    private final io.cloudbridge.store.Durability durability;
    private final NetworkMaps maps;
    private final CredentialRegistry credentials;
    private final java.util.function.Supplier<io.cloudbridge.api.relay.PacketSwitch> dataPlane;

    NodeRemoval(RelayState state, AddressAllocator ipam, io.cloudbridge.store.Durability durability, NetworkMaps maps,
            CredentialRegistry credentials, java.util.function.Supplier<io.cloudbridge.api.relay.PacketSwitch> dataPlane) {
        this.state = state;
        this.ipam = ipam;
        this.durability = durability;
        this.maps = maps;
        this.credentials = credentials;
        this.dataPlane = dataPlane;
    }

    /**
     * Removes a node: its token stops working at once, every session it opened ends now (map and
     * signalling streams, relay ports, MASQUE tunnels: whatever bound itself to its credential),
     * its addresses are released.
     */
    Optional<RelayState.Node> deleteNode(String nodeId) throws SQLException {
        Optional<RelayState.Node> node = state.deleteNode(nodeId);
        node.ifPresent(n -> {
            ipam.release(n.tenant(), NodeKey.parse(n.key()));
            try {
                durability.sync();
            } catch (SQLException e) {
                LOG.warn("the removal of node {} may not outlive a crash: {}", n.id(), e.toString());
            }
            maps.remove(n.tenant(), n.id());
            // After the database forgot the node: a session binding itself from now on is refused.
            credentials.revokeNode(n.id(), "node removed");
            io.cloudbridge.api.relay.PacketSwitch relaySwitch = dataPlane.get();
            if (relaySwitch != null) {
                // For a transport plugin that does not bind its ports (a vendor's).
                relaySwitch.disconnect(n.tenant(), NodeKey.parse(n.key()), "node removed");
            }
            ControlService.SECURITY.info("node {} of tenant {} removed; its token is void", n.id(), n.tenant());
        });
        return node;
    }
}
