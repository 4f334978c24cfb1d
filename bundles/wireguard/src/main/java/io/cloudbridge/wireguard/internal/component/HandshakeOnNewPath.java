package io.cloudbridge.wireguard.internal.component;

import io.cloudbridge.api.event.StateChangeEvent;
import io.cloudbridge.api.event.StateChangeListener;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;

/**
 * When the node's relay path comes up (announced by the paths as {@link #RELAY_PATH}),
 * handshakes waiting for a retry go out at once. An initiation that a relay session took and
 * lost (the session was dying, or the relay did not yet know the peer) was otherwise retried only
 * at the 5 s rekey timeout, while the peer, still sealing for a session this node no longer had,
 * went unanswered.
 */
@Component(service = StateChangeListener.class)
public final class HandshakeOnNewPath implements StateChangeListener {
    /** The event source of the paths' relay path; its state is the transport, or "unreachable". */
    public static final String RELAY_PATH = "mesh.relay";

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    private volatile WireGuardService wireguard;

    @Override
    public void stateChanged(StateChangeEvent event) {
        WireGuardService w = wireguard;
        if (w != null && RELAY_PATH.equals(event.source()) && event.from().equals("unreachable")) {
            w.retryPendingHandshakes();
        }
    }
}
