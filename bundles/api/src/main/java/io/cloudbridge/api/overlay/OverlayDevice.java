package io.cloudbridge.api.overlay;

import io.cloudbridge.api.net.IpPrefix;
import java.util.List;
import org.osgi.annotation.versioning.ProviderType;

/** The node's overlay interface: a TUN device, or the userspace stand-in when there is no root. */
@ProviderType
public interface OverlayDevice {

    /** The interface name, e.g. {@code cb0}. */
    String name();

    /** The device's WireGuard public key: who this node is to its peers and its relay. */
    io.cloudbridge.api.net.NodeKey publicKey();

    /** Whether packets stay in this process (no TUN device). */
    boolean userspace();

    int mtu();

    /** The node's own overlay addresses, with their prefixes. */
    List<IpPrefix> addresses();

    /** The prefixes routed into the device. */
    List<IpPrefix> routes();

    /**
     * Proof that this interface holds or held {@code key} (its key now, or one of its last few
     * since it started): HMAC-SHA256 of {@code message} keyed by X25519 of that private key and
     * {@code verifierKey}, as {@link KeyRotationProof} describes. Empty for a key it never had.
     */
    java.util.Optional<byte[]> proveKey(io.cloudbridge.api.net.NodeKey key, io.cloudbridge.api.net.NodeKey verifierKey,
            byte[] message);
}
