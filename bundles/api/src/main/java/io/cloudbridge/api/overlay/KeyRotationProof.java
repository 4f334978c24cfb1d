package io.cloudbridge.api.overlay;

import io.cloudbridge.api.net.NodeKey;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * What a node signs when it registers a new WireGuard key with its old token: a token alone must
 * not let its holder move the node onto a key of their own (peers would then take them for the
 * node), so the node also proves that it holds the private key the token names. The proof is an
 * HMAC-SHA256 of {@link #message} keyed by X25519 of that private key and the relay's rotation key;
 * node and relay both build the message here.
 */
public final class KeyRotationProof {
    /** How far the proof's time may be from the relay's clock. */
    public static final Duration VALIDITY = Duration.ofMinutes(5);
    private static final byte[] LABEL = "cloudbridge key rotation v1".getBytes(StandardCharsets.US_ASCII);

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
}
