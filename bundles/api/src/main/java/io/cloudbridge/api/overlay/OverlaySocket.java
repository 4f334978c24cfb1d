package io.cloudbridge.api.overlay;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import org.osgi.annotation.versioning.ProviderType;

/** The overlay's UDP socket, shared: what a {@link DatagramClaimer} answers with goes out from the same 5-tuple. */
@ProviderType
public interface OverlaySocket {

    InetSocketAddress localAddress();

    void send(InetSocketAddress to, ByteBuffer datagram) throws IOException;
}
