package io.cloudbridge.control.relay.internal;

import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.api.overlay.KeyRotationProof;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.Arrays;
import java.util.Base64;
import org.bouncycastle.math.ec.rfc7748.X25519;

/**
 * The relay's side of {@link KeyRotationProof}: an X25519 key of its own (kept owner-only in its
 * state folder, so proofs made against it stay good across restarts), given to nodes at
 * registration, and the check of a rotating node's proof that it holds the key its token names.
 */
final class KeyRotationVerifier {
    private final byte[] privateKey;
    private final NodeKey publicKey;

    private KeyRotationVerifier(byte[] privateKey) {
        this.privateKey = privateKey;
        byte[] pub = new byte[X25519.POINT_SIZE];
        X25519.generatePublicKey(privateKey, 0, pub, 0);
        this.publicKey = NodeKey.of(pub);
    }

    static KeyRotationVerifier loadOrCreate(Path file, io.cloudbridge.api.runtime.RuntimeEnvironment secrets) throws IOException {
        if (Files.exists(file)) {
            byte[] key = Base64.getDecoder().decode(Files.readString(file, StandardCharsets.US_ASCII).trim());
            if (key.length != X25519.SCALAR_SIZE) {
                throw new IOException(file + " does not hold a 32-byte Base64 key");
            }
            return new KeyRotationVerifier(key);
        }
        byte[] key = new byte[X25519.SCALAR_SIZE];
        X25519.generatePrivateKey(new SecureRandom(), key);
        secrets.writeSecret(file, Base64.getEncoder().encodeToString(key) + "\n");
        return new KeyRotationVerifier(key);
    }

    NodeKey publicKey() {
        return publicKey;
    }

    /**
     * The u-coordinates of Curve25519's points of small order (1, 2, 4, 8) and their encodings
     * at or above p, little-endian: 0, 1, the two of order 8, p - 1, p and p + 1 (the list
     * libsodium refuses too). X25519 with any of them gives zero whatever the private key.
     */
    private static final byte[][] LOW_ORDER = {
        new byte[32],
        java.util.HexFormat.of().parseHex("0100000000000000000000000000000000000000000000000000000000000000"),
        java.util.HexFormat.of().parseHex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
        java.util.HexFormat.of().parseHex("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
        java.util.HexFormat.of().parseHex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
        java.util.HexFormat.of().parseHex("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
        java.util.HexFormat.of().parseHex("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    };

    /**
     * Whether {@code key} is a low-order point: X25519 with it gives zero whatever the private
     * key, so no handshake works with it, and a node's WireGuard refuses it as a peer. Compared
     * against the list (the top bit ignored, as X25519 ignores it) rather than found by a scalar
     * multiplication, which cost every registration a third of a millisecond of the relay's CPU.
     */
    static boolean lowOrder(NodeKey key) {
        byte[] u = key.toBytes();
        u[31] &= 0x7f;
        for (byte[] bad : LOW_ORDER) {
            if (Arrays.equals(u, bad)) {
                return true;
            }
        }
        return false;
    }

    /** Null when the proof holds; otherwise why not, in words for the refusal. */
    String check(String nodeId, NodeKey previous, NodeKey next, long madeAtEpochSeconds, byte[] mac, Instant now) {
        if (Math.abs(now.getEpochSecond() - madeAtEpochSeconds) > KeyRotationProof.VALIDITY.toSeconds()) {
            return "the key rotation proof is not from the last " + KeyRotationProof.VALIDITY.toMinutes() + " minutes";
        }
        byte[] shared = new byte[X25519.POINT_SIZE];
        if (!X25519.calculateAgreement(privateKey, 0, previous.toBytes(), 0, shared, 0)) {
            return "the previous key is a low-order point"; // a shared secret of zero would let anyone make the proof
        }
        try {
            byte[] expected = KeyRotationProof.mac(shared, previous, publicKey,
                    KeyRotationProof.message(nodeId, previous, next, madeAtEpochSeconds));
            return MessageDigest.isEqual(expected, mac) ? null : "the key rotation proof does not hold";
        } finally {
            Arrays.fill(shared, (byte) 0);
        }
    }
}
