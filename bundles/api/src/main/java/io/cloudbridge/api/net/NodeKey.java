package io.cloudbridge.api.net;

import java.util.Arrays;
import java.util.Base64;

/**
 * A node's identity on the overlay: its 32-byte Curve25519 (WireGuard) public key. Written in
 * standard Base64, as WireGuard tools print it.
 */
public final class NodeKey {
    public static final int LENGTH = 32;
    private final byte[] bytes;

    private NodeKey(byte[] bytes) {
        this.bytes = bytes;
    }

    public static NodeKey of(byte[] key) {
        if (key == null || key.length != LENGTH) {
            throw new IllegalArgumentException("a node key is " + LENGTH + " bytes");
        }
        return new NodeKey(key.clone());
    }

    /** Parses the Base64 form; rejects anything that is not exactly 32 bytes. */
    public static NodeKey parse(String base64) {
        if (base64 == null || base64.length() != 44) {
            throw new IllegalArgumentException("a node key is 44 characters of Base64");
        }
        try {
            return of(Base64.getDecoder().decode(base64));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("a node key is 44 characters of Base64", e);
        }
    }

    public byte[] toBytes() {
        return bytes.clone();
    }

    public String toBase64() {
        return Base64.getEncoder().encodeToString(bytes);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof NodeKey other && Arrays.equals(bytes, other.bytes);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(bytes);
    }

    @Override
    public String toString() {
        return toBase64();
    }
}
