package io.cloudbridge.api.overlay;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import org.osgi.annotation.versioning.ConsumerType;

/**
 * Whiteboard: claims datagrams on the overlay's UDP socket that are not WireGuard's. NAT traversal
 * registers one for STUN (RFC 7983: first byte 0–3 and the magic cookie 0x2112A442 at bytes 4–7),
 * so that connectivity checks and WireGuard data share one 5-tuple, as hole punching needs.
 */
@ConsumerType
public interface DatagramClaimer {

    /** Whether this datagram is this claimer's; called on the receive thread, so decide fast. */
    boolean claims(ByteBuffer datagram);

    /** A claimed datagram; the buffer is valid only during the call. */
    void receive(InetSocketAddress from, ByteBuffer datagram);
}
