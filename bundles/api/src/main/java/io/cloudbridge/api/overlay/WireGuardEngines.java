package io.cloudbridge.api.overlay;

import java.io.IOException;
import org.osgi.annotation.versioning.ProviderType;

/** Makes {@link WireGuardEngine}s: the overlay bundle's WireGuard for whoever needs one of its own. */
@ProviderType
public interface WireGuardEngines {

    /**
     * A started engine with this static private key (32 bytes, X25519).
     *
     * @throws IOException when it cannot start
     */
    WireGuardEngine create(byte[] privateKey, WireGuardEngine.Transmitter transmitter, WireGuardEngine.Receiver receiver)
            throws IOException;
}
