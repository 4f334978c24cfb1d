package io.cloudbridge.api.overlay;

import io.cloudbridge.api.mesh.PathKind;
import java.nio.ByteBuffer;
import org.osgi.annotation.versioning.ProviderType;

/**
 * Where a path that is not the engine's own UDP socket (a relay transport session, a MASQUE
 * tunnel) hands the encrypted WireGuard packets it received. The engine routes them by their
 * session index, as it does its own socket's, so a peer can move between paths without its
 * session noticing.
 */
@ProviderType
public interface EncryptedPacketInbound {

    void receive(ByteBuffer packet, PathKind via);
}
