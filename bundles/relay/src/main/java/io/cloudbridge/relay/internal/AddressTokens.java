package io.cloudbridge.relay.internal;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.quic.QuicTokenHandler;
import java.net.InetSocketAddress;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * QUIC address validation (RFC 9000, section 8.1): a new connection first gets a Retry with a
 * token that only this relay can make, bound to the client's address and its connection id and
 * good for a short while. Nobody can then make the relay send to an address that did not ask, so
 * the listener is no amplifier. The key is random per start: tokens do not outlive the relay.
 */
final class AddressTokens implements QuicTokenHandler {
    private static final int TIME = 8;
    private static final int TAG = 32;
    private static final int MAX_CID = 20;
    static final long LIFETIME_MILLIS = 30_000;

    private final SecretKeySpec key;
    private final ThreadLocal<Mac> macs;

    AddressTokens() {
        byte[] k = new byte[32];
        new SecureRandom().nextBytes(k);
        key = new SecretKeySpec(k, "HmacSHA256");
        macs = ThreadLocal.withInitial(() -> {
            try {
                Mac m = Mac.getInstance("HmacSHA256");
                m.init(key);
                return m;
            } catch (GeneralSecurityException e) {
                throw new IllegalStateException("HmacSHA256 is always there", e);
            }
        });
    }

    /**
     * The MAC over time, address, port and connection id, each variable-length field preceded by
     * its length. Back to back, the fields of an IPv6 client with an 8-byte id are the very bytes
     * of an IPv4 client with a 20-byte id (the address's first four bytes, the next two as its
     * port, the rest as the id), and a token rewritten that way would validate for an address
     * that never asked.
     */
    private byte[] tag(long time, InetSocketAddress address, ByteBuf dcid, int dcidIndex, int dcidLength) {
        Mac mac = macs.get();
        for (int i = 7; i >= 0; i--) {
            mac.update((byte) (time >>> (i * 8)));
        }
        byte[] ip = address.getAddress().getAddress();
        mac.update((byte) ip.length);
        mac.update(ip);
        mac.update((byte) (address.getPort() >>> 8));
        mac.update((byte) address.getPort());
        byte[] id = new byte[dcidLength];
        dcid.getBytes(dcidIndex, id);
        mac.update((byte) dcidLength); // at most MAX_CID: one byte holds it
        mac.update(id);
        return mac.doFinal();
    }

    @Override
    public boolean writeToken(ByteBuf out, ByteBuf dcid, InetSocketAddress address) {
        long now = System.currentTimeMillis();
        out.writeLong(now);
        out.writeBytes(tag(now, address, dcid, dcid.readerIndex(), dcid.readableBytes()));
        out.writeBytes(dcid, dcid.readerIndex(), dcid.readableBytes());
        return true;
    }

    @Override
    public int validateToken(ByteBuf token, InetSocketAddress address) {
        int start = token.readerIndex();
        int length = token.readableBytes();
        if (length < TIME + TAG || length > TIME + TAG + MAX_CID) {
            return -1;
        }
        long time = token.getLong(start);
        long age = System.currentTimeMillis() - time;
        if (age < 0 || age > LIFETIME_MILLIS) {
            return -1;
        }
        byte[] presented = new byte[TAG];
        token.getBytes(start + TIME, presented);
        byte[] expected = tag(time, address, token, start + TIME + TAG, length - TIME - TAG);
        return MessageDigest.isEqual(presented, expected) ? TIME + TAG : -1;
    }

    @Override
    public int maxTokenLength() {
        return TIME + TAG + MAX_CID;
    }
}
