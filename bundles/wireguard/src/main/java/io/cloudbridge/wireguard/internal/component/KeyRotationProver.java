package io.cloudbridge.wireguard.internal.component;

import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.wireguard.internal.noise.Identity;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Proves to the control plane that this node holds a key, the interface's own or one it had
 * before. Not thread-safe: the component calls it under its lock.
 */
final class KeyRotationProver {
    private static final Logger LOG = LoggerFactory.getLogger(KeyRotationProver.class);

    /**
     * The keys this interface had before its latest changes (newest last, a few at most): the
     * control plane proves with the one its token names that it is the node rotating its key.
     */
    private final java.util.Deque<Identity> formerIdentities = new java.util.ArrayDeque<>();

    /** The interface's key changed: the one it had is still proven for a while. */
    void retire(Identity previousIdentity) {
        formerIdentities.addLast(previousIdentity);
        while (formerIdentities.size() > 4) {
            formerIdentities.removeFirst();
        }
    }

    /** See {@link io.cloudbridge.api.overlay.OverlayDevice#proveKey}; {@code current} is null without an interface. */
    java.util.Optional<byte[]> proveKey(Identity current, NodeKey key, NodeKey verifierKey, byte[] message) {
        List<Identity> known = new ArrayList<>(formerIdentities);
        if (current != null) {
            known.add(current);
        }
        for (Identity identity : known) {
            if (java.util.Arrays.equals(identity.publicKey(), key.toBytes())) {
                byte[] privateKey = identity.privateKeyForExport();
                byte[] shared = null;
                try {
                    shared = io.cloudbridge.wireguard.internal.noise.NoiseCrypto.dh(privateKey, verifierKey.toBytes());
                    return java.util.Optional.of(io.cloudbridge.api.overlay.KeyRotationProof.mac(shared, key, verifierKey, message));
                } catch (java.security.GeneralSecurityException e) {
                    LOG.warn("cannot prove key {} to {}: {}", key, verifierKey, e.toString());
                    return java.util.Optional.empty();
                } finally {
                    java.util.Arrays.fill(privateKey, (byte) 0);
                    if (shared != null) {
                        java.util.Arrays.fill(shared, (byte) 0);
                    }
                }
            }
        }
        return java.util.Optional.empty();
    }
}
