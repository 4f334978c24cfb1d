package io.cloudbridge.api.mesh;

import java.nio.ByteBuffer;
import org.osgi.annotation.versioning.ProviderType;

/** One way to a peer. The WireGuard engine sends through it without knowing which kind it is. */
@ProviderType
public interface PeerPath {

    PathKind kind();

    /**
     * Sends one encrypted packet; never blocks; {@code false} when it was dropped. The buffer is
     * the caller's again when the call returns (the engine reuses it for its next batch): an
     * implementation that sends later copies what it keeps.
     */
    boolean send(ByteBuffer packet);
}
