package io.cloudbridge.api.overlay;

import io.cloudbridge.api.net.NodeKey;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Arrays;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * What a node signs when it registers a new WireGuard key with its old token: a token alone must
 * not let its holder move the node onto a key of their own (peers would then take them for the
 * node), so the node also proves that it holds the private key the token names. The proof is an
 * HMAC-SHA256 of {@link #message} under a key derived from X25519 of that private key and the
 * relay's rotation key, and from both public keys ({@link #mac}); node and relay both use this
 * class, so they cannot drift apart.
 */
public final class KeyRotationProof {
    /** How far the proof's time may be from the relay's clock. */
    public static final Duration VALIDITY = Duration.ofMinutes(5);
    private static final byte[] LABEL = "cloudbridge key rotation v1".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] KEY_LABEL = "cloudbridge key rotation v1 mac key".getBytes(StandardCharsets.US_ASCII);

    private KeyRotationProof() {
    }

    /** The bytes the proof covers: label, node id (length-prefixed), previous key, new key, time (big-endian). */
    public static byte[] message(String nodeId, NodeKey previous, NodeKey next, long madeAtEpochSeconds) {
        byte[] id = nodeId.getBytes(StandardCharsets.UTF_8);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(LABEL);
        out.writeBytes(ByteBuffer.allocate(4).putInt(id.length).array());
        out.writeBytes(id);
        out.writeBytes(previous.toBytes());
        out.writeBytes(next.toBytes());
        out.writeBytes(ByteBuffer.allocate(8).putLong(madeAtEpochSeconds).array());
        return out.toByteArray();
    }

    /**
     * The proof of {@code message}, from the X25519 shared secret of the previous key and the
     * verifier's key. The HMAC key is SHA-256 of a label, the secret and both public keys: a
     * secret used for nothing else, never the raw X25519 output (which, with a peer's key in
     * place of the relay's, is WireGuard's static-static secret).
     */
    public static byte[] mac(byte[] sharedSecret, NodeKey previous, NodeKey verifier, byte[] message) {
        byte[] key = null;
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update(KEY_LABEL);
            sha.update(sharedSecret);
            sha.update(previous.toBytes());
            sha.update(verifier.toBytes());
            key = sha.digest();
            Mac hmac = Mac.getInstance("HmacSHA256");
            hmac.init(new SecretKeySpec(key, "HmacSHA256"));
            return hmac.doFinal(message);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("SHA-256 and HmacSHA256 are part of every JDK", e);
        } finally {
            if (key != null) {
                Arrays.fill(key, (byte) 0);
            }
        }
    }
}
