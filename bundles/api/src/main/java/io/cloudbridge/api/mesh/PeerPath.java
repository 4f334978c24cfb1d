package io.cloudbridge.api.mesh;

import java.nio.ByteBuffer;
import org.osgi.annotation.versioning.ProviderType;

/** One way to a peer. The WireGuard engine sends through it without knowing which kind it is. */
@ProviderType
public interface PeerPath {

    PathKind kind();

    /** Sends one encrypted packet; never blocks; {@code false} when it was dropped. */
    boolean send(ByteBuffer packet);
}
