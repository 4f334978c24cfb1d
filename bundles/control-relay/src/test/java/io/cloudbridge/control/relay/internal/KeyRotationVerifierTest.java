package io.cloudbridge.control.relay.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.cloudbridge.api.net.NodeKey;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.bouncycastle.math.ec.rfc7748.X25519;
import org.junit.jupiter.api.Test;

/** The low-order list agrees with X25519 itself: zero out for exactly the listed points. */
class KeyRotationVerifierTest {
    @Test
    void theLowOrderListIsExactlyThePointsX25519TurnsToZero() {
        List<byte[]> candidates = new ArrayList<>();
        for (String hex : List.of("0000000000000000000000000000000000000000000000000000000000000000",
                "0100000000000000000000000000000000000000000000000000000000000000",
                "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
                "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
                "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
                "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
                "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
                "0900000000000000000000000000000000000000000000000000000000000000")) { // the base point: not low order
            byte[] u = HexFormat.of().parseHex(hex);
            candidates.add(u);
            byte[] high = u.clone();
            high[31] |= (byte) 0x80; // the same point with the top bit set, which X25519 ignores
            candidates.add(high);
        }
        SecureRandom random = new SecureRandom();
        for (int i = 0; i < 200; i++) {
            byte[] u = new byte[32];
            random.nextBytes(u);
            candidates.add(u);
        }
        byte[] scalar = new byte[32];
        X25519.generatePrivateKey(random, scalar);
        for (byte[] u : candidates) {
            boolean zero = !X25519.calculateAgreement(scalar, 0, u, 0, new byte[32], 0);
            assertEquals(zero, KeyRotationVerifier.lowOrder(NodeKey.of(u)), HexFormat.of().formatHex(u));
        }
    }
}
