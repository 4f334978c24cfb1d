package io.cloudbridge.wireguard.internal.noise;

import java.time.Instant;
import java.util.concurrent.atomic.AtomicLong;
import javax.crypto.AEADBadTagException;

/**
 * The transport keys one handshake produced: a sending key with its counter, a receiving key with
 * its replay window, and the two session indices that route messages to it.
 */
public final class Keypair {
    private final TransportCipher.Key sendKey;
    private final TransportCipher.Key receiveKey;
    private final int localIndex;
    private final int remoteIndex;
    private final boolean initiator;
    private final Instant created;
    private final AtomicLong sendCounter = new AtomicLong();
    private final ReplayWindow replay = new ReplayWindow();

    Keypair(byte[] sendKey, byte[] receiveKey, int localIndex, int remoteIndex, boolean initiator, Instant created) {
        this.sendKey = TransportCipher.key(sendKey);
        this.receiveKey = TransportCipher.key(receiveKey);
        this.localIndex = localIndex;
        this.remoteIndex = remoteIndex;
        this.initiator = initiator;
        this.created = created;
    }

    public int localIndex() {
        return localIndex;
    }

    public int remoteIndex() {
        return remoteIndex;
    }

    public boolean initiator() {
        return initiator;
    }

    public Instant created() {
        return created;
    }

    public long messagesSent() {
        return sendCounter.get();
    }

    /** Whether every counter this keypair may send with is used (a new handshake is due). */
    public boolean exhausted() {
        return Long.compareUnsigned(sendCounter.get(), ReplayWindow.REJECT_AFTER_MESSAGES) >= 0;
    }

    /** Encrypts an IP packet (or nothing, a keepalive) into a transport message. */
    public byte[] seal(byte[] plaintext) {
        return seal(plaintext, plaintext.length);
    }

    /** Encrypts {@code plaintext[0, length)} into a new transport message. */
    public byte[] seal(byte[] plaintext, int length) {
        byte[] msg = new byte[sealedLength(length)];
        seal(plaintext, length, msg);
        return msg;
    }

    /** The length of the transport message that carries {@code plainLength} bytes (padding included). */
    public static int sealedLength(int plainLength) {
        return Messages.TRANSPORT_HEADER_LENGTH + ((plainLength + 15) & ~15) + NoiseCrypto.TAG_LENGTH;
    }

    /**
     * Encrypts {@code plaintext[0, length)} into {@code out} (at least {@link #sealedLength} bytes),
     * so that the send path can seal into buffers it reuses.
     *
     * @return the message length
     */
    public int seal(byte[] plaintext, int length, byte[] out) {
        return seal(reserveCounter(), plaintext, length, out);
    }

    /**
     * Takes the next send counter. A batch takes its counters in order on one thread and seals on
     * several, so that the messages leave in counter order.
     *
     * @throws IllegalStateException when the keypair has sent all it may (a new handshake is due)
     */
    public long reserveCounter() {
        long counter = sendCounter.getAndIncrement();
        if (Long.compareUnsigned(counter, ReplayWindow.REJECT_AFTER_MESSAGES) >= 0) {
            throw new IllegalStateException("keypair exhausted; a new handshake is due");
        }
        return counter;
    }

    /** Seals with a counter from {@link #reserveCounter}; safe to call from several threads at once. */
    public int seal(long counter, byte[] plaintext, int length, byte[] out) {
        // Padding to a multiple of 16 hides the exact length of the inner packet. The padded
        // plaintext is staged per thread, then encrypted into place after the header.
        int padded = (length + 15) & ~15;
        byte[] body = STAGING.get();
        if (body.length < padded) {
            body = new byte[Math.max(padded, 2048)];
            STAGING.set(body);
        }
        System.arraycopy(plaintext, 0, body, 0, length);
        java.util.Arrays.fill(body, length, padded, (byte) 0);
        java.util.Arrays.fill(out, 0, Messages.TRANSPORT_HEADER_LENGTH, (byte) 0);
        out[0] = Messages.TRANSPORT;
        Messages.writeIndex(out, 4, remoteIndex);
        Messages.writeCounter(out, 8, counter);
        return Messages.TRANSPORT_HEADER_LENGTH
                + TransportCipher.seal(sendKey, counter, body, 0, padded, out, Messages.TRANSPORT_HEADER_LENGTH);
    }

    /** Per-thread room for the padded plaintext. */
    private static final ThreadLocal<byte[]> STAGING = ThreadLocal.withInitial(() -> new byte[2048]);

    /**
     * Decrypts a transport message addressed to this keypair.
     *
     * @return the padded plaintext (empty for a keepalive)
     * @throws AEADBadTagException when it does not authenticate
     * @throws ReplayException when the counter was seen or is too old
     */
    public byte[] open(byte[] msg, int length) throws AEADBadTagException, ReplayException {
        byte[] plain = new byte[length - Messages.TRANSPORT_MIN_LENGTH];
        open(msg, length, plain);
        return plain;
    }

    /**
     * Decrypts into {@code out} (at least {@code length - 32} bytes), so that the receive path can
     * reuse one buffer instead of allocating a packet's worth for each.
     *
     * @return the plaintext length (0 for a keepalive)
     */
    public int open(byte[] msg, int length, byte[] out) throws AEADBadTagException, ReplayException {
        long counter = Messages.readCounter(msg, 8);
        synchronized (replay) {
            if (replay.refuses(counter)) {
                throw new ReplayException(counter); // spare the decryption of a known replay
            }
        }
        int sealedLength = length - Messages.TRANSPORT_HEADER_LENGTH;
        int plainLength = TransportCipher.open(receiveKey, counter, msg, Messages.TRANSPORT_HEADER_LENGTH, sealedLength,
                out, 0);
        // Only after authentication: an attacker cannot advance the window with forged counters.
        synchronized (replay) {
            if (!replay.accept(counter)) {
                throw new ReplayException(counter);
            }
        }
        return plainLength;
    }

    /** A transport counter seen before, or too far behind the newest. */
    public static final class ReplayException extends Exception {
        private static final long serialVersionUID = 1L;

        ReplayException(long counter) {
            super("replayed or too old: counter " + Long.toUnsignedString(counter));
        }
    }
}
