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

    /**
     * Whether a datagram on the shared socket is STUN (RFC 7983): first byte 0–3 and the magic
     * cookie. A TURN Data indication may be as long as the packet it carries; anything else of
     * ours is short.
     */
    static boolean isStun(ByteBuffer datagram) {
        int p = datagram.position();
        return datagram.remaining() >= 20 && (datagram.get(p) & 0xC0) == 0 && datagram.getInt(p + 4) == MAGIC_COOKIE
                && (datagram.remaining() <= MAX_MESSAGE || datagram.getChar(p) == Message.DATA_INDICATION);
    }

    /**
     * Whether a datagram is TURN ChannelData (RFC 8656 12.4; RFC 7983 gives it first bytes
     * 64–79): a channel number 0x4000–0x4FFF, then a length the datagram holds. WireGuard's
     * messages start with 1–4, so the two never meet.
     */
    static boolean isChannelData(ByteBuffer datagram) {
        int p = datagram.position();
        return datagram.remaining() >= 4 && (datagram.get(p) & 0xF0) == 0x40 && datagram.getChar(p + 2) <= datagram.remaining() - 4;
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
            return signed(r, remotePassword.getBytes(StandardCharsets.UTF_8));
        } catch (StunException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The success answer to a check: where it came from (XOR-MAPPED-ADDRESS), signed with our password. */
    byte[] success(Request check, InetSocketAddress source, String localUfrag, String localPassword) {
        try {
            Response r = MessageFactory.createBindingResponse(check, new TransportAddress(source, Transport.UDP));
            r.setTransactionID(check.getTransactionID());
            return signed(r, localPassword.getBytes(StandardCharsets.UTF_8));
        } catch (StunException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * A TURN request (RFC 8656) under the long-term credential mechanism (RFC 8489 9.2): USERNAME,
     * REALM and NONCE, then MESSAGE-INTEGRITY keyed with MD5(username:realm:password). Without a
     * realm yet, the request goes unsigned and the server's 401 brings realm and nonce.
     */
    byte[] turnRequest(Request r, byte[] transactionId, String username, String realm, byte[] nonce, byte[] key) {
        try {
            r.setTransactionID(transactionId);
            if (realm == null) {
                r.putAttribute(AttributeFactory.createFingerprintAttribute());
                return r.encode(stack);
            }
            r.putAttribute(AttributeFactory.createUsernameAttribute(username));
            r.putAttribute(AttributeFactory.createRealmAttribute(realm.getBytes(StandardCharsets.UTF_8)));
            r.putAttribute(AttributeFactory.createNonceAttribute(nonce));
            return signed(r, key);
        } catch (StunException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The long-term key (RFC 8489 9.2.2): MD5 of {@code username:realm:password}. */
    static byte[] longTermKey(String username, String realm, String password) {
        try {
            return MessageDigest.getInstance("MD5").digest((username + ":" + realm + ":" + password).getBytes(StandardCharsets.UTF_8));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A Send indication (RFC 8656 11.1): one datagram for the server to relay to {@code peer}; not signed, as the RFC has it. */
    byte[] sendIndication(byte[] transactionId, InetSocketAddress peer, byte[] data) {
        try {
            org.ice4j.message.Indication i = MessageFactory.createSendIndication(new TransportAddress(peer, Transport.UDP), data,
                    transactionId);
            i.setTransactionID(transactionId);
            return i.encode(stack);
        } catch (StunException e) {
            throw new IllegalStateException(e);
        }
    }

    private byte[] signed(Message m, byte[] key) {
        // Registered for the one encode call: ice4j asks its credentials manager by username.
        String name = "key#" + Thread.currentThread().getId();
        MessageIntegrityAttribute integrity = AttributeFactory.createMessageIntegrityAttribute(name);
        m.putAttribute(integrity);
        m.putAttribute(AttributeFactory.createFingerprintAttribute());
        keys.put(name, key);
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

        /** Whether it is one of TURN's (RFC 8656): answers to our allocation's requests, and Data indications. */
        boolean isTurn() {
            return (message.getMessageType() & 0x3EEF) != Message.STUN_METHOD_BINDING; // the type less its class bits (RFC 8489 5)
        }

        char type() {
            return message.getMessageType();
        }

        /** ERROR-CODE's number (e.g. 401), or 0. */
        int errorCode() {
            return message.getAttribute(Attribute.ERROR_CODE) instanceof org.ice4j.attribute.ErrorCodeAttribute e ? e.getErrorCode() : 0;
        }

        String errorReason() {
            return message.getAttribute(Attribute.ERROR_CODE) instanceof org.ice4j.attribute.ErrorCodeAttribute e
                    && e.getReasonPhrase() != null ? e.getReasonPhrase().replace("\0", "").trim() : ""; // coturn pads with NULs
        }

        String realm() {
            return message.getAttribute(Attribute.REALM) instanceof org.ice4j.attribute.RealmAttribute r
                    ? new String(r.getRealm(), StandardCharsets.UTF_8) : null;
        }

        byte[] nonce() {
            return message.getAttribute(Attribute.NONCE) instanceof org.ice4j.attribute.NonceAttribute n ? n.getNonce() : null;
        }

        /** LIFETIME in seconds, or -1. */
        int lifetime() {
            return message.getAttribute(Attribute.LIFETIME) instanceof org.ice4j.attribute.LifetimeAttribute l ? l.getLifetime() : -1;
        }

        /** XOR-RELAYED-ADDRESS: the allocation's address on the TURN server. */
        InetSocketAddress relayed() {
            return xored(Attribute.XOR_RELAYED_ADDRESS);
        }

        /** XOR-PEER-ADDRESS: who a Data indication's datagram came from. */
        InetSocketAddress peer() {
            return xored(Attribute.XOR_PEER_ADDRESS);
        }

        byte[] data() {
            return message.getAttribute(Attribute.DATA) instanceof org.ice4j.attribute.DataAttribute d ? d.getData() : null;
        }

        private InetSocketAddress xored(char type) {
            if (message.getAttribute(type) instanceof XorMappedAddressAttribute xor) {
                byte[] mask = new byte[16];
                ByteBuffer.wrap(mask).putInt(MAGIC_COOKIE);
                System.arraycopy(message.getTransactionID(), 0, mask, 4, 12);
                TransportAddress a = xor.applyXor(mask);
                return new InetSocketAddress(a.getAddress(), a.getPort());
            }
            return null;
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
            return xored(Attribute.XOR_MAPPED_ADDRESS);
        }

        /**
         * Whether MESSAGE-INTEGRITY is present and is the HMAC-SHA1 of the message up to it, under
         * {@code password}, with the length field as if the message ended after it (RFC 8489 14.5).
         */
        boolean signedWith(String password) {
            return signedWith(password.getBytes(StandardCharsets.UTF_8));
        }

        /** {@link #signedWith(String)} with the key itself (TURN's long-term key). */
        boolean signedWith(byte[] key) {
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
            byte[] expected = MessageIntegrityAttribute.calculateHmacSha1(covered, 0, at, key);
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
