package io.cloudbridge.api.mesh;

import io.cloudbridge.api.net.NodeKey;
import java.util.Collection;
import java.util.Optional;
import org.osgi.annotation.versioning.ProviderType;

/** The peers of this node's tenant, kept current from the network map. */
@ProviderType
public interface PeerDirectory {

    Collection<Peer> peers();

    Optional<Peer> peer(NodeKey key);
}
