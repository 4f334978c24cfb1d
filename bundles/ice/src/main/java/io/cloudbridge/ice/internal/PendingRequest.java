package io.cloudbridge.ice.internal;

import java.net.InetSocketAddress;
import java.util.HexFormat;

/**
 * One binding request of ours in flight, kept by transaction id until its answer comes (or 10 s
 * pass): an answer counts only from where the request went, on the base it left from, and signed
 * with the password it was sent with.
 */
record PendingRequest(PeerSession session, CandidatePair pair, Purpose purpose, InetSocketAddress to, IceEngine.Base via, String password,
        long sentNanos) {

    enum Purpose { STUN, CHECK, NOMINATE, CONSENT, PROBE }

    static byte[] transactionId() {
        byte[] tid = new byte[12];
        IceContext.RANDOM.nextBytes(tid);
        return tid;
    }

    static String key(byte[] tid) {
        return HexFormat.of().formatHex(tid);
    }
}
