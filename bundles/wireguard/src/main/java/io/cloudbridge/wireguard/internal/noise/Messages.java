package io.cloudbridge.wireguard.internal.noise;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** The four WireGuard message types, their sizes and field offsets (whitepaper section 5.4). */
public final class Messages {
    public static final byte INITIATION = 1;
    public static final byte RESPONSE = 2;
    public static final byte COOKIE_REPLY = 3;
    public static final byte TRANSPORT = 4;

    public static final int INITIATION_LENGTH = 148;
    public static final int RESPONSE_LENGTH = 92;
    public static final int COOKIE_REPLY_LENGTH = 64;
    /** Header of a transport message: type, reserved, receiver index, counter. */
    public static final int TRANSPORT_HEADER_LENGTH = 16;
    /** The smallest transport message: a keepalive (no payload), header and tag. */
    public static final int TRANSPORT_MIN_LENGTH = TRANSPORT_HEADER_LENGTH + NoiseCrypto.TAG_LENGTH;

    private Messages() {
    }

    /** The message type, or -1 when the first four bytes are not a WireGuard header. */
    public static int type(byte[] packet, int length) {
        if (length < 4 || packet[1] != 0 || packet[2] != 0 || packet[3] != 0) {
            return -1;
        }
        int t = packet[0];
        return switch (t) {
            case INITIATION -> length == INITIATION_LENGTH ? t : -1;
            case RESPONSE -> length == RESPONSE_LENGTH ? t : -1;
            case COOKIE_REPLY -> length == COOKIE_REPLY_LENGTH ? t : -1;
            case TRANSPORT -> length >= TRANSPORT_MIN_LENGTH ? t : -1;
            default -> -1;
        };
    }

    static int readIndex(byte[] b, int offset) {
        return ByteBuffer.wrap(b, offset, 4).order(ByteOrder.LITTLE_ENDIAN).getInt();
    }

    static void writeIndex(byte[] b, int offset, int index) {
        ByteBuffer.wrap(b, offset, 4).order(ByteOrder.LITTLE_ENDIAN).putInt(index);
    }

    static long readCounter(byte[] b, int offset) {
        return ByteBuffer.wrap(b, offset, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    }

    static void writeCounter(byte[] b, int offset, long counter) {
        ByteBuffer.wrap(b, offset, 8).order(ByteOrder.LITTLE_ENDIAN).putLong(counter);
    }

    /** The receiver index of a response, cookie reply or transport message. */
    public static int receiverIndex(byte[] packet) {
        return switch (packet[0]) {
            case RESPONSE -> readIndex(packet, 8);
            default -> readIndex(packet, 4);
        };
    }

    /** The sender index of an initiation or response. */
    public static int senderIndex(byte[] packet) {
        return readIndex(packet, 4);
    }
}
