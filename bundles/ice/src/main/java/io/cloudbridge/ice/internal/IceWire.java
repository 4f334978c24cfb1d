package io.cloudbridge.ice.internal;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.ice4j.StunException;
import org.ice4j.Transport;
import org.ice4j.TransportAddress;
import org.ice4j.attribute.Attribute;
import org.ice4j.attribute.AttributeFactory;
import org.ice4j.attribute.MessageIntegrityAttribute;
import org.ice4j.attribute.PriorityAttribute;
import org.ice4j.attribute.UsernameAttribute;
import org.ice4j.attribute.XorMappedAddressAttribute;
import org.ice4j.message.Message;
import org.ice4j.message.MessageFactory;
import org.ice4j.message.Request;
import org.ice4j.message.Response;
import org.ice4j.security.CredentialsAuthority;
import org.ice4j.stack.StunStack;

/**
 * ICE's connectivity checks on the wire (RFC 8445 section 7, STUN short-term credentials of RFC
 * 8489), encoded and decoded by ice4j. The checks travel on the overlay's own socket, which
 * ice4j's agent cannot share (it binds and reads its own sockets), so the check logic is
 * {@link IceSession}'s and this class is only the message layer: ice4j's STUN stack computes
 * MESSAGE-INTEGRITY from the passwords registered here.
 */
final class IceWire {
    /** RFC 8489: STUN's first byte has its top two bits clear; the magic cookie follows the length. */
    static final int MAGIC_COOKIE = 0x2112A442;
    /** Larger than any check we send (about 100 bytes): a longer datagram is not ours. */
    static final int MAX_MESSAGE = 548;

    private final StunStack stack = new StunStack();
    /** Keys by username: a request's MESSAGE-INTEGRITY uses the peer's password, a response's our own. */
    private final Map<String, byte[]> keys = new ConcurrentHashMap<>();

    IceWire() {
        stack.getCredentialsManager().registerAuthority(new CredentialsAuthority() {
            @Override
            public byte[] getLocalKey(String username) {
                return keys.get(username);
            }

            @Override
            public byte[] getRemoteKey(String username, String media) {
                return keys.get(username);
            }

            @Override
            public boolean checkLocalUserName(String username) {
                return keys.containsKey(username);
            }
        });
    }

    void close() {
        stack.shutDown();
    }

    /** Whether a datagram on the shared socket is STUN (RFC 7983): first byte 0–3 and the magic cookie. */
    static boolean isStun(ByteBuffer datagram) {
        int p = datagram.position();
        return datagram.remaining() >= 20 && datagram.remaining() <= MAX_MESSAGE && (datagram.get(p) & 0xC0) == 0
                && datagram.getInt(p + 4) == MAGIC_COOKIE;
    }

    /** A Binding request with no attributes: what a STUN server answers with our public endpoint. */
    byte[] bindingRequest(byte[] transactionId) {
        try {
            Request r = MessageFactory.createBindingRequest();
            r.setTransactionID(transactionId);
            return r.encode(stack);
        } catch (StunException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * A connectivity check: USERNAME {@code remoteUfrag:localUfrag}, PRIORITY of the peer-reflexive
     * candidate it may reveal, our role and tie-breaker, USE-CANDIDATE when nominating, then
     * MESSAGE-INTEGRITY with the peer's password and FINGERPRINT.
     */
    byte[] check(byte[] transactionId, String username, String remotePassword, long priority, boolean controlling,
            long tieBreaker, boolean nominate) {
        try {
            Request r = MessageFactory.createBindingRequest();
            r.setTransactionID(transactionId);
            r.putAttribute(AttributeFactory.createUsernameAttribute(username));
            r.putAttribute(AttributeFactory.createPriorityAttribute(priority));
            r.putAttribute(controlling ? AttributeFactory.createIceControllingAttribute(tieBreaker)
                    : AttributeFactory.createIceControlledAttribute(tieBreaker));
            if (nominate) {
                r.putAttribute(AttributeFactory.createUseCandidateAttribute());
            }
            return signed(r, username, remotePassword);
        } catch (StunException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The success answer to a check: where it came from (XOR-MAPPED-ADDRESS), signed with our password. */
    byte[] success(Request check, InetSocketAddress source, String localUfrag, String localPassword) {
        try {
            Response r = MessageFactory.createBindingResponse(check, new TransportAddress(source, Transport.UDP));
            r.setTransactionID(check.getTransactionID());
            return signed(r, localUfrag, localPassword);
        } catch (StunException e) {
            throw new IllegalStateException(e);
        }
    }

    private byte[] signed(Message m, String keyName, String password) {
        // Registered for the one encode call: ice4j asks its credentials manager by username.
        String name = keyName + "#" + Thread.currentThread().getId();
        MessageIntegrityAttribute integrity = AttributeFactory.createMessageIntegrityAttribute(name);
        m.putAttribute(integrity);
        m.putAttribute(AttributeFactory.createFingerprintAttribute());
        keys.put(name, password.getBytes(StandardCharsets.UTF_8));
        try {
            return m.encode(stack);
        } finally {
            keys.remove(name);
        }
    }

    /** A decoded STUN message with the bytes it came from (MESSAGE-INTEGRITY is checked against them). */
    record Received(Message message, byte[] raw) {
        boolean isRequest() {
            return message.getMessageType() == Message.BINDING_REQUEST;
        }

        boolean isSuccess() {
            return message.getMessageType() == Message.BINDING_SUCCESS_RESPONSE;
        }

        boolean isError() {
            return message.getMessageType() == Message.BINDING_ERROR_RESPONSE;
        }

        String username() {
            return message.getAttribute(Attribute.USERNAME) instanceof UsernameAttribute u
                    ? new String(u.getUsername(), StandardCharsets.UTF_8) : null;
        }

        long priority() {
            return message.getAttribute(Attribute.PRIORITY) instanceof PriorityAttribute p ? p.getPriority() : 0;
        }

        boolean nominates() {
            return message.getAttribute(Attribute.USE_CANDIDATE) != null;
        }

        /** XOR-MAPPED-ADDRESS, un-XORed with the cookie and transaction id. */
        InetSocketAddress mapped() {
            if (message.getAttribute(Attribute.XOR_MAPPED_ADDRESS) instanceof XorMappedAddressAttribute xor) {
                byte[] mask = new byte[16];
                ByteBuffer.wrap(mask).putInt(MAGIC_COOKIE);
                System.arraycopy(message.getTransactionID(), 0, mask, 4, 12);
                TransportAddress a = xor.applyXor(mask);
                return new InetSocketAddress(a.getAddress(), a.getPort());
            }
            return null;
        }

        /**
         * Whether MESSAGE-INTEGRITY is present and is the HMAC-SHA1 of the message up to it, under
         * {@code password}, with the length field as if the message ended after it (RFC 8489 14.5).
         */
        boolean signedWith(String password) {
            if (!(message.getAttribute(Attribute.MESSAGE_INTEGRITY) instanceof MessageIntegrityAttribute mi)) {
                return false;
            }
            int at = mi.getLocationInMessage();
            if (at < 20 || at + 24 > raw.length) {
                return false;
            }
            byte[] covered = java.util.Arrays.copyOf(raw, at);
            int length = at - 20 + 24;
            covered[2] = (byte) (length >> 8);
            covered[3] = (byte) length;
            byte[] expected = MessageIntegrityAttribute.calculateHmacSha1(covered, 0, at, password.getBytes(StandardCharsets.UTF_8));
            return MessageDigest.isEqual(expected, mi.getHmacSha1Content());
        }
    }

    /**
     * Decodes a datagram {@link #isStun} accepted; {@code null} for anything malformed (ice4j's
     * decoder checks FINGERPRINT; its exceptions on junk are caught here, whatever they are).
     */
    static Received decode(ByteBuffer datagram) {
        byte[] raw = new byte[datagram.remaining()];
        datagram.duplicate().get(raw);
        int declared = ((raw[2] & 0xff) << 8) | (raw[3] & 0xff);
        if (declared + 20 != raw.length || (declared & 3) != 0) {
            return null; // truncated, padded or trailing bytes: not one whole STUN message
        }
        try {
            return new Received(Message.decode(raw, 0, raw.length), raw);
        } catch (StunException | RuntimeException e) {
            return null;
        }
    }
}
