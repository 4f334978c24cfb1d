package io.cloudbridge.api.mesh;

import org.osgi.annotation.versioning.ConsumerType;

/** Whiteboard: register one to hear of peers joining, changing and leaving. */
@ConsumerType
public interface PeerDirectoryListener {

    void peerAdded(Peer peer);

    void peerUpdated(Peer previous, Peer current);

    void peerRemoved(Peer peer);
}
