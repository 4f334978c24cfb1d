package io.cloudbridge.relay.internal;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32;

/**
 * STUN Binding (RFC 8489) as the relay answers it: a node sends a Binding request to learn the
 * address and port its packets leave its NAT with (its server-reflexive candidate), and the
 * answer names them in an XOR-MAPPED-ADDRESS. No authentication: a Binding tells a sender only
 * what it could see itself. The answer carries nothing else but its FINGERPRINT (44 bytes to a
 * 20-byte IPv4 request, 56 for IPv6), and the listener limits answers per source, so the
 * responder is a poor amplifier.
 *
 * <p>Requests without the magic cookie (RFC 3489 clients) are not answered: told apart from
 * junk only by their type, and ICE (RFC 8445) needs RFC 5389 or later.
 *
 * <p>What is not a well-formed Binding request gets no answer (RFC 8489 §6.3: silently
 * discarded), except a request with comprehension-required attributes the relay does not know,
 * which gets a 420 error naming them (§6.3.1.1).
 */
final class StunBinding {
    static final int HEADER = 20;
    static final int MAGIC_COOKIE = 0x2112A442;
    static final int BINDING_REQUEST = 0x0001;
    static final int BINDING_SUCCESS = 0x0101;
    static final int BINDING_ERROR = 0x0111;
    static final int XOR_MAPPED_ADDRESS = 0x0020;
    static final int ERROR_CODE = 0x0009;
    static final int UNKNOWN_ATTRIBUTES = 0x000A;
    static final int FINGERPRINT = 0x8028;
    static final int FINGERPRINT_XOR = 0x5354554E;
    /** Requests longer than this are not Bindings anyone sends: cut off before any work. */
    static final int MAX_REQUEST = 548;

    /** What became of a datagram. */
    enum Outcome { ANSWERED, REFUSED_UNKNOWN_ATTRIBUTES, NOT_STUN, MALFORMED, NOT_A_BINDING_REQUEST, BAD_FINGERPRINT }

    /** The outcome and, when there is one, the answer to send back. */
    record Result(Outcome outcome, ByteBuffer answer) {
    }

    private StunBinding() {
    }

    /** Answers {@code datagram} (its position to limit), which came from {@code source}. */
    static Result answer(ByteBuffer datagram, InetSocketAddress source) {
        ByteBuffer in = datagram.slice();
        int size = in.remaining();
        // RFC 8489 §6.3: the first two bits zero, the magic cookie, a length that is the rest of the
        // datagram and a multiple of four. Anything else is not STUN (or is mangled) and is dropped.
        if (size < HEADER || (in.get(0) & 0xC0) != 0 || in.getInt(4) != MAGIC_COOKIE) {
            return new Result(Outcome.NOT_STUN, null);
        }
        int length = in.getShort(2) & 0xFFFF;
        if (size > MAX_REQUEST || length != size - HEADER || (length & 3) != 0) {
            return new Result(Outcome.MALFORMED, null);
        }
        if ((in.getShort(0) & 0xFFFF) != BINDING_REQUEST) {
            return new Result(Outcome.NOT_A_BINDING_REQUEST, null);
        }
        List<Integer> unknownRequired = new ArrayList<>();
        int at = HEADER;
        while (at < size) {
            if (size - at < 4) {
                return new Result(Outcome.MALFORMED, null);
            }
            int type = in.getShort(at) & 0xFFFF;
            int valueLength = in.getShort(at + 2) & 0xFFFF;
            int padded = (valueLength + 3) & ~3;
            if (padded > size - at - 4) {
                return new Result(Outcome.MALFORMED, null);
            }
            if (type == FINGERPRINT) {
                // Last, if present (§14.7), over everything before it, with the length as sent.
                if (valueLength != 4 || at + 8 != size) {
                    return new Result(Outcome.MALFORMED, null);
                }
                if (in.getInt(at + 4) != fingerprint(in, at)) {
                    return new Result(Outcome.BAD_FINGERPRINT, null);
                }
            } else if (type < 0x8000) {
                // Comprehension-required, and the relay's Binding understands none: authentication
                // and ICE's attributes belong to checks between peers, not to a request to the relay.
                unknownRequired.add(type);
            }
            at += 4 + padded;
        }
        byte[] transaction = new byte[12];
        in.get(8, transaction);
        if (!unknownRequired.isEmpty()) {
            return new Result(Outcome.REFUSED_UNKNOWN_ATTRIBUTES, unknownAttributes(transaction, unknownRequired));
        }
        return new Result(Outcome.ANSWERED, success(transaction, source));
    }

    private static ByteBuffer success(byte[] transaction, InetSocketAddress source) {
        InetAddress address = source.getAddress();
        byte[] raw = address.getAddress();
        boolean v4 = address instanceof Inet4Address;
        ByteBuffer out = ByteBuffer.allocate(HEADER + 4 + 4 + raw.length + 8);
        header(out, BINDING_SUCCESS, transaction);
        // XOR-MAPPED-ADDRESS (§14.2): the port XORed with the cookie's top half, the address with the
        // cookie (IPv4) or the cookie and the transaction id (IPv6), so that NATs rewriting
        // addresses they find in payloads leave it alone.
        out.putShort((short) XOR_MAPPED_ADDRESS).putShort((short) (4 + raw.length));
        out.put((byte) 0).put((byte) (v4 ? 0x01 : 0x02)).putShort((short) (source.getPort() ^ (MAGIC_COOKIE >>> 16)));
        byte[] mask = new byte[16];
        ByteBuffer.wrap(mask).putInt(MAGIC_COOKIE).put(transaction);
        for (int i = 0; i < raw.length; i++) {
            out.put((byte) (raw[i] ^ mask[i]));
        }
        return finish(out);
    }

    private static ByteBuffer unknownAttributes(byte[] transaction, List<Integer> types) {
        byte[] reason = "Unknown Attribute".getBytes(StandardCharsets.US_ASCII);
        ByteBuffer out = ByteBuffer.allocate(HEADER + 4 + ((4 + reason.length + 3) & ~3) + 4 + ((2 * types.size() + 3) & ~3) + 8);
        header(out, BINDING_ERROR, transaction);
        ByteBuffer error = ByteBuffer.allocate(4 + reason.length);
        error.putShort((short) 0).put((byte) 4).put((byte) 20).put(reason); // class 4, number 20: 420
        attribute(out, ERROR_CODE, error.array());
        ByteBuffer list = ByteBuffer.allocate(2 * types.size());
        types.forEach(t -> list.putShort((short) (int) t));
        attribute(out, UNKNOWN_ATTRIBUTES, list.array());
        return finish(out);
    }

    private static void header(ByteBuffer out, int type, byte[] transaction) {
        out.putShort((short) type).putShort((short) 0).putInt(MAGIC_COOKIE).put(transaction);
    }

    private static void attribute(ByteBuffer out, int type, byte[] value) {
        out.putShort((short) type).putShort((short) value.length).put(value);
        for (int pad = value.length; (pad & 3) != 0; pad++) {
            out.put((byte) 0);
        }
    }

    /** Sets the length, appends a FINGERPRINT, and flips the buffer for sending. */
    private static ByteBuffer finish(ByteBuffer out) {
        int beforeFingerprint = out.position();
        out.putShort(2, (short) (beforeFingerprint + 8 - HEADER));
        out.putShort((short) FINGERPRINT).putShort((short) 4).putInt(fingerprint(out, beforeFingerprint));
        return out.flip();
    }

    /** CRC-32 of the message's first {@code end} bytes, XORed with 0x5354554E (§14.7). */
    private static int fingerprint(ByteBuffer message, int end) {
        CRC32 crc = new CRC32();
        crc.update(message.duplicate().position(0).limit(end));
        return (int) crc.getValue() ^ FINGERPRINT_XOR;
    }
}
